// #/training/<jobId>: one job, live. Its state and progress, the curves as epochs finish, and then
// what came of it: the registered version (with Deploy), the error, or that it was cancelled.
import { href } from '../../lib/router';
import { can, useWho } from '../../lib/who';
import { ErrorBox, Loading } from '../../components/status';
import { Curves, EpochTable, pct } from './curves';
import { CancelJob, Deploy } from './job-actions';
import { isFinished, type LiveJob } from './live';
import { useJob } from './use-job';

export function JobView({ id }: { id: string }) {
  const { live, error, lost, reconnect } = useJob(id);
  const back = <p><a href={href('training')}>← All training jobs</a></p>;
  if (error) {
    return (
      <section class="training">
        {back}
        <ErrorBox error={error} onRetry={reconnect} />
      </section>
    );
  }
  if (!live) return <section class="training">{back}<Loading what="the job" /></section>;
  const { job } = live;
  return (
    <section class="training">
      {back}
      <hgroup>
        <h1>{job.spec.name}</h1>
        <p>Training job <span class="mono">{job.id}</span>{job.spec.description ? ` · ${job.spec.description}` : ''}</p>
      </hgroup>
      <JobStatus live={live} />
      {live.interrupted && (
        <div class="error-box" role="alert">
          <span>{live.interrupted}.</span>
          <button type="button" class="secondary outline" onClick={reconnect}>Reconnect</button>
        </div>
      )}
      {lost && !live.interrupted && <ErrorBox error="Lost the job's event stream; the job itself goes on." onRetry={reconnect} />}
      <Outcome live={live} />
      <Curves live={live} />
      <EpochTable live={live} />
      <details>
        <summary>Spec</summary>
        <pre class="training-spec">{JSON.stringify(job.spec, null, 2)}</pre>
      </details>
    </section>
  );
}

function JobStatus({ live }: { live: LiveJob }) {
  const { job, progress, epochs } = live;
  const last = epochs.at(-1);
  const total = progress?.epochs ?? job.spec.epochs;
  const finished = isFinished(live);
  return (
    <div class="training-status">
      <div class="stat-cards">
        <article>
          <small>State</small>
          <div class="value" role="status"><span class={`training-state training-state-${job.state}`} data-state={job.state}>{job.state}</span></div>
        </article>
        <article>
          <small>Epoch</small>
          <div class="value num">{epochs.length} / {total}</div>
        </article>
        <article>
          <small>Test accuracy</small>
          <div class="value num" data-stat="test-accuracy">{pct(last?.testAccuracy)}</div>
        </article>
        <article>
          <small>Test loss</small>
          <div class="value num" data-stat="test-loss">{last ? last.testLoss.toFixed(4) : '—'}</div>
        </article>
      </div>
      <label class="training-progress">
        {progress
          ? <span>Epoch {progress.epoch} of {progress.epochs}: batch <span class="num">{progress.step}</span> of {progress.stepsPerEpoch} · <span class="num">{Math.round(progress.samplesPerSec).toLocaleString()}</span> examples/s</span>
          : <span>{waiting(live)}</span>}
        {/* batches of the running epoch; epochs once it has finished; no value (the browser's own
            indeterminate bar) while it waits or loads its data */}
        {progress
          ? <progress max={progress.stepsPerEpoch} value={progress.step} aria-label="Batches done in this epoch" />
          : <progress max={total} value={finished ? epochs.length : undefined} aria-label="Epochs done" />}
      </label>
    </div>
  );
}

/** What the job is doing when it reports no batches: waiting its turn, starting, or finished. */
function waiting({ job }: LiveJob): string {
  if (job.state === 'queued') return 'Queued: one job trains at a time, and this one is next in line or behind others';
  if (job.state === 'running') return 'Preparing the data and the network';
  const when = job.finishedAt ? ` at ${new Date(job.finishedAt).toLocaleString()}` : '';
  return `${job.state[0]!.toUpperCase()}${job.state.slice(1)}${when}`;
}

function Outcome({ live }: { live: LiveJob }) {
  const who = useWho();
  const { job } = live;
  // one slot for what changes at the end, with room reserved, so the curves below never move
  return (
    <div class="training-outcome">
      {!isFinished(live) && can(who, 'train') && <CancelJob job={job} />}
      {job.state === 'succeeded' && live.result && <Deploy result={live.result} canDeploy={can(who, 'admin')} />}
      {job.state === 'failed' && <ErrorBox error={`The job failed: ${live.error ?? 'no reason given'}`} />}
      {job.state === 'cancelled' && <p>This job was cancelled; nothing was registered.</p>}
    </div>
  );
}
