// One model's live numbers: a row of stat cards, then requests per second, latency, the batch-size
// histogram and the queue depth (and for a generative model, tokens per second and time to first
// token). Charts keep fixed heights and update in place as polls arrive.
import { BarChart } from '../../components/bar-chart';
import { LineChart, type Series } from '../../components/line-chart';
import { Empty } from '../../components/status';
import { DASH, fmtLatency, fmtRate } from './format';
import { batchHistogram, type History, type ModelPoint } from './series';

const RATE: readonly Series[] = [{ label: 'requests/s', color: '#1e88e5' }, { label: 'errors/s', color: '#c62828' }];
const LATENCY: readonly Series[] = [{ label: 'p50 ms', color: '#43a047' }, { label: 'p99 ms', color: '#fb8c00' }];
const QUEUE: readonly Series[] = [{ label: 'waiting', color: '#8e24aa' }];
const TOKENS: readonly Series[] = [{ label: 'tokens/s', color: '#00897b' }];
const FIRST_TOKEN: readonly Series[] = [{ label: 'TTFT p50 ms', color: '#43a047' }, { label: 'TTFT p99 ms', color: '#fb8c00' }];
const HEIGHT = 200;

export type HistogramSpan = 'window' | 'start';

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <article data-stat={label}>
      <small>{label}</small>
      <div class="value">{value}</div>
    </article>
  );
}

export function ModelView({ model, history, span, onSpan }: { model: string; history: History; span: HistogramSpan; onSpan(s: HistogramSpan): void }) {
  const { points, scrapes } = history;
  const x = points.map((p) => p.t / 1000);
  const of = (pick: (m: ModelPoint) => number | null, scale = 1) => points.map((p) => {
    const m = p.models.get(model);
    const v = m ? pick(m) : null;
    return v === null ? null : v * scale;
  });
  const last = points[points.length - 1]?.models.get(model);
  const generative = points.some((p) => p.models.get(model)?.tokensPerS != null);
  const latest = scrapes[scrapes.length - 1];
  const bars = latest ? batchHistogram(span === 'window' ? scrapes[0] : undefined, latest, model) : [];
  const batches = bars.reduce((a, b) => a + b.count, 0);

  return (
    <>
      <section class="stat-cards" aria-label={`${model} now`}>
        <Stat label="Requests/s" value={fmtRate(last?.rps)} />
        <Stat label="p50 latency" value={fmtLatency(last?.p50)} />
        <Stat label="p99 latency" value={fmtLatency(last?.p99)} />
        <Stat label="Errors/s" value={fmtRate(last?.errorsPerS)} />
        <Stat label="Queue depth" value={last ? String(last.queue) : DASH} />
        {generative
          ? <Stat label="Tokens/s" value={fmtRate(last?.tokensPerS)} />
          : <Stat label="Mean batch" value={last?.meanBatch != null ? last.meanBatch.toFixed(1) : DASH} />}
      </section>
      <div class="grid-2 metrics-charts">
        <section>
          <h3>Requests per second</h3>
          <LineChart title={`Requests per second, ${model}`} x={x} ys={[of((m) => m.rps), of((m) => m.errorsPerS)]} series={RATE} height={HEIGHT} time />
        </section>
        <section>
          <h3>Latency</h3>
          <LineChart title={`Latency p50 and p99, ${model}`} x={x} ys={[of((m) => m.p50, 1000), of((m) => m.p99, 1000)]} series={LATENCY} height={HEIGHT} time yLabel="ms" />
        </section>
        {generative ? (
          <>
            <section>
              <h3>Tokens per second</h3>
              <LineChart title={`Tokens per second, ${model}`} x={x} ys={[of((m) => m.tokensPerS)]} series={TOKENS} height={HEIGHT} time />
            </section>
            <section>
              <h3>Time to first token</h3>
              <LineChart title={`Time to first token, ${model}`} x={x} ys={[of((m) => m.firstTokenP50, 1000), of((m) => m.firstTokenP99, 1000)]} series={FIRST_TOKEN} height={HEIGHT} time yLabel="ms" />
            </section>
          </>
        ) : (
          <section>
            <div class="section-head">
              <h3>Batch sizes</h3>
              <select aria-label="Batch sizes over" value={span} onChange={(e) => onSpan((e.target as HTMLSelectElement).value as HistogramSpan)}>
                <option value="window">last 5 minutes</option>
                <option value="start">since Ferry started</option>
              </select>
            </div>
            <div class="batch-hist">
              {batches === 0
                ? <Empty title="No batches in this span">Batches appear here as the model runs.</Empty>
                : <BarChart title={`Batch sizes, ${model}`} bars={bars.map((b) => ({ label: b.label, value: b.count }))} format={(v) => String(v)} />}
            </div>
          </section>
        )}
        <section>
          <h3>Queue depth</h3>
          <LineChart title={`Queue depth, ${model}`} x={x} ys={[of((m) => m.queue)]} series={QUEUE} height={HEIGHT} time />
        </section>
      </div>
    </>
  );
}
