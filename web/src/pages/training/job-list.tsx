// The jobs this key can see, newest first, refreshed every few seconds while one is still going.
import { useMemo } from 'preact/hooks';
import { href } from '../../lib/router';
import { useApi, useInterval } from '../../lib/use-api';
import { Empty, ErrorBox, Loading } from '../../components/status';
import { pct } from './curves';
import { FINISHED, type JobRecord } from './types';

const ACTIVE_POLL_MS = 2000;
const IDLE_POLL_MS = 15_000;

export function JobList() {
  const { data, error, reload } = useApi<{ jobs: JobRecord[] }>('/api/training-jobs');
  const jobs = useMemo(() => [...(data?.jobs ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt)), [data]);
  const active = jobs.some((j) => !FINISHED.includes(j.state));
  useInterval(reload, active ? ACTIVE_POLL_MS : IDLE_POLL_MS);

  return (
    <section aria-labelledby="jobs-title">
      <h2 id="jobs-title">Jobs</h2>
      <ErrorBox error={error} onRetry={reload} />
      {!data && !error && <Loading what="the training jobs" />}
      {data && jobs.length === 0 && <Empty title="No training jobs yet">Start one from a recipe; its curves show here as it trains.</Empty>}
      {jobs.length > 0 && (
        <div class="table-wrap">
          <table class="striped" aria-label="Training jobs">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Epochs</th>
                <th scope="col" class="num">Test acc.</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id} data-job={j.id}>
                  <td><a href={href('training', j.id)}>{j.spec.name}</a></td>
                  <td><span class={`training-state training-state-${j.state}`}>{j.state}</span></td>
                  <td class="num">{j.epochs.length} / {j.spec.epochs}</td>
                  <td class="num">{pct(j.epochs.at(-1)?.testAccuracy)}</td>
                  <td><time dateTime={j.createdAt}>{new Date(j.createdAt).toLocaleString()}</time></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
