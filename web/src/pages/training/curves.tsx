// The job's curves: loss and accuracy per epoch (train and held-out test, from epoch events) and
// the running train loss within epochs (from progress events). Fixed heights: the charts are there,
// empty, from the first moment, and points arriving never move the page.
import { LineChart, type Series } from '../../components/line-chart';
import { isFinished, type LiveJob } from './live';

const TRAIN_TEST: readonly Series[] = [
  { label: 'train', color: '#1e88e5' },
  { label: 'test', color: '#e53935' },
];
const RUNNING: readonly Series[] = [{ label: 'running train loss', color: '#8e24aa' }];
const HEIGHT = 200;

export function Curves({ live }: { live: LiveJob }) {
  const x = live.epochs.map((m) => m.epoch);
  const loss = [live.epochs.map((m) => m.trainLoss), live.epochs.map((m) => m.testLoss)];
  const accuracy = [live.epochs.map((m) => m.trainAccuracy ?? null), live.epochs.map((m) => m.testAccuracy ?? null)];
  return (
    <div class="grid-2 training-curves">
      <section>
        <h3>Loss per epoch</h3>
        <LineChart title="Loss per epoch" x={x} ys={loss} series={TRAIN_TEST} height={HEIGHT} xLabel="epoch" yLabel="loss" />
      </section>
      <section>
        <h3>Accuracy per epoch</h3>
        <LineChart title="Accuracy per epoch" x={x} ys={accuracy} series={TRAIN_TEST} height={HEIGHT} xLabel="epoch" yLabel="accuracy" />
      </section>
      <section>
        <h3>Loss within epochs</h3>
        <small class="training-hint">
          {live.steps.x.length > 0 || !isFinished(live)
            ? 'The running mean over each epoch so far, as the job reports it while this page is open.'
            : 'Reported only while the job runs: open its page during a run to see it.'}
        </small>
        <LineChart title="Running train loss within epochs" x={live.steps.x} ys={[live.steps.loss]} series={RUNNING} height={HEIGHT} xLabel="epochs" yLabel="loss" />
      </section>
    </div>
  );
}

export const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);

/** Every finished epoch's numbers, for reading exactly (and for screen readers). */
export function EpochTable({ live }: { live: LiveJob }) {
  if (live.epochs.length === 0) return null;
  return (
    <div class="table-wrap">
      <table class="striped" aria-label="Metrics of each finished epoch">
        <thead>
          <tr>
            <th scope="col">Epoch</th>
            <th scope="col" class="num">Train loss</th>
            <th scope="col" class="num">Test loss</th>
            <th scope="col" class="num">Train acc.</th>
            <th scope="col" class="num">Test acc.</th>
            <th scope="col" class="num">Learning rate</th>
            <th scope="col" class="num">Seconds</th>
          </tr>
        </thead>
        <tbody>
          {live.epochs.map((m) => (
            <tr key={m.epoch}>
              <th scope="row">{m.epoch}</th>
              <td class="num">{m.trainLoss.toFixed(4)}</td>
              <td class="num">{m.testLoss.toFixed(4)}</td>
              <td class="num">{pct(m.trainAccuracy)}</td>
              <td class="num">{pct(m.testAccuracy)}</td>
              <td class="num">{m.learningRate.toPrecision(3)}</td>
              <td class="num">{m.seconds.toFixed(2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
