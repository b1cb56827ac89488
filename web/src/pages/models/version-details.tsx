// One version in full: its facts, lineage, metrics, signature and config.
import { href } from '../../lib/router';
import {
  aliasesOf, formatBytes, formatDate, formatMetric, formatShape, lineageOf, metricsOf, plainFacts, trainingFacts,
  type ModelWithVersions, type TensorSpec, type VersionView,
} from './model-data';

export function VersionDetails({ model, v }: { model: ModelWithVersions; v: VersionView }) {
  const lineage = lineageOf(v.metadata);
  const metrics = metricsOf(v.metadata);
  const aliases = aliasesOf(model, v.version);
  const classes = Array.isArray(v.metadata['classes']) ? (v.metadata['classes'] as unknown[]).map(String) : [];
  const facts: [string, string][] = [
    ['format', v.format],
    ['size', `${formatBytes(v.sizeBytes)} (${v.sizeBytes.toLocaleString('en')} bytes)`],
    ['created', formatDate(v.createdAt)],
    ['aliases', aliases.length > 0 ? aliases.join(', ') : 'none'],
    ...plainFacts(v.metadata),
    ...trainingFacts(v.metadata),
  ];
  return (
    <section aria-labelledby="version-title" class="version-details" data-version={v.version}>
      <h2 id="version-title">Version {v.version}</h2>
      <div class="grid-2">
        <div>
          <dl class="facts">
            {facts.map(([k, val]) => <div key={k}><dt>{k}</dt><dd>{val}</dd></div>)}
            <div>
              <dt>lineage</dt>
              <dd>
                {lineage ? (
                  <><a href={href('models', lineage.model, lineage.version)}>{lineage.model} v{lineage.version}</a>{lineage.transformation && ` (${lineage.transformation})`}</>
                ) : 'uploaded, not derived from another version'}
              </dd>
            </div>
            <div><dt>sha256</dt><dd class="mono">{v.sha256}</dd></div>
          </dl>
          {classes.length > 0 && (
            <p><strong>Classes</strong> ({classes.length}): {classes.slice(0, 20).join(', ')}{classes.length > 20 ? ', …' : ''}</p>
          )}
        </div>
        <div>
          <h3>Metrics</h3>
          {metrics.length > 0 ? (
            <table class="metrics-table">
              <tbody>{metrics.map((m) => <tr key={m.label}><th scope="row">{m.label}</th><td class="num">{formatMetric(m.value)}</td></tr>)}</tbody>
            </table>
          ) : <p class="muted">No metrics recorded: Ferry keeps them for models it trained.</p>}
        </div>
      </div>
      <h3>Signature</h3>
      <div class="grid-2">
        <Tensors title="Inputs" tensors={v.signature.inputs} />
        <Tensors title="Outputs" tensors={v.signature.outputs} />
      </div>
      {Object.keys(v.config).length > 0 && (
        <>
          <h3>Serving config</h3>
          <pre class="config">{JSON.stringify(v.config, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

function Tensors({ title, tensors }: { title: string; tensors: readonly TensorSpec[] }) {
  return (
    <div class="table-wrap">
      <table class="tensor-table">
        <caption>{title}</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Shape</th></tr></thead>
        <tbody>
          {tensors.length === 0 ? <tr><td colSpan={3} class="muted">none</td></tr> : tensors.map((t) => (
            <tr key={t.name}><td class="mono">{t.name}</td><td>{t.dtype}</td><td class="mono">{formatShape(t.shape)}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
