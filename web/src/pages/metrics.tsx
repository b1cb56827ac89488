// Live metrics (#/metrics, #/metrics/<model>): requests per second, p50/p99 latency, batch sizes and
// queue depth per model, from Ferry's own GET /metrics polled every 2 s (`?poll=<ms>` to change).
// Rates and quantiles come from the difference between consecutive scrapes; the last five minutes
// stay in memory. One request per poll whatever the number of models, so watching costs the server
// one scrape every 2 s (bench/dashboard.ts measures that).
import { useState } from 'preact/hooks';
import { Empty, ErrorBox, Loading } from '../components/status';
import { href, navigate } from '../lib/router';
import { can, useWho } from '../lib/who';
import { ModelsTable } from './metrics/models-table';
import { ModelView, type HistogramSpan } from './metrics/model-view';
import { modelsOf } from './metrics/series';
import { pollMs, useScrapes } from './metrics/use-scrapes';

export function MetricsPage({ params }: { params: readonly string[] }) {
  const who = useWho();
  return <div class="metrics-page">{can(who, 'metrics') ? <LiveMetrics asked={params[0]} /> : <NoScope />}</div>;
}

function NoScope() {
  return (
    <>
      <h1>Metrics</h1>
      <div class="error-box" role="alert">
        <span>This key does not have the <code>metrics</code> scope, so Ferry will not show it metrics. Log in with a key that has it,
          or ask an admin for one (<code>ferry keys create --tenant … --scopes read,metrics</code>).</span>
      </div>
    </>
  );
}

function LiveMetrics({ asked }: { asked: string | undefined }) {
  const ms = pollMs();
  const { history, error, forbidden, refresh } = useScrapes(ms);
  const [span, setSpan] = useState<HistogramSpan>('window');
  const latest = history.scrapes[history.scrapes.length - 1];
  const models = modelsOf(latest);
  const model = asked ?? models[0];
  const updated = latest ? new Date(latest.t).toLocaleTimeString() : '—';

  if (forbidden) return <NoScope />;
  return (
    <>
      <h1>Metrics</h1>
      <div class="toolbar">
        {models.length > 0 && (
          <select aria-label="Model shown" value={model} onChange={(e) => navigate('metrics', (e.target as HTMLSelectElement).value)}>
            {model !== undefined && !models.includes(model) && <option value={model}>{model}</option>}
            {models.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        )}
        <button type="button" class="secondary outline small" onClick={refresh}>Refresh</button>
        <small class="updated">every {ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`} · updated <span class="num">{updated}</span></small>
      </div>
      <ErrorBox error={error && `Could not read the metrics: ${error}`} onRetry={refresh} />
      {!latest ? (
        !error && <Loading what="metrics" />
      ) : models.length === 0 ? (
        <Empty title="No model has served a request yet">
          Charts appear here as soon as a model gets traffic: try one in the <a href={href('playground')}>Playground</a>, or send
          requests to <code>/v2/models/&lt;name&gt;/infer</code>.
        </Empty>
      ) : (
        <>
          {model !== undefined && !models.includes(model) && (
            <p role="status">“{model}” has had no requests since Ferry started; its charts fill in when it does.</p>
          )}
          {model !== undefined && <ModelView model={model} history={history} span={span} onSpan={setSpan} />}
          <h2>All models</h2>
          <ModelsTable models={models} point={history.points[history.points.length - 1]} selected={model ?? ''} />
        </>
      )}
    </>
  );
}
