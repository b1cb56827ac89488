// A model's versions, newest first: what each is, where it came from, how it scored, whether it is in
// memory, and (for admin keys) load, point an alias at it, delete.
import { api, enc } from '../../lib/api';
import { href, navigate } from '../../lib/router';
import { ErrorBox } from '../../components/status';
import type { Actions } from './actions';
import { aliasesOf, formatBytes, formatDate, formatMetric, lineageOf, metricsOf, type ModelWithVersions, type VersionView } from './model-data';

export interface VersionsTableProps {
  readonly model: ModelWithVersions;
  readonly admin: boolean;
  readonly actions: Actions;
  readonly selected: number | undefined;
  /** "Point an alias here…": prefills the alias form with this version */
  onAlias(version: number): void;
}

export function VersionsTable({ model, admin, actions, selected, onAlias }: VersionsTableProps) {
  const versions = [...model.versions].sort((a, b) => b.version - a.version);
  return (
    <section aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      <div class="table-wrap">
        <table class="versions-table">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Aliases</th>
              <th scope="col" class="num">Size</th>
              <th scope="col" class="hide-narrow">Created</th>
              <th scope="col">Lineage</th>
              <th scope="col">Metrics</th>
              <th scope="col">In memory</th>
              {admin && <th scope="col"><span class="visually-hidden">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <VersionRow key={v.version} v={v} model={model} admin={admin} actions={actions} selected={v.version === selected} onAlias={onAlias} />
            ))}
          </tbody>
        </table>
      </div>
      <ErrorBox error={actions.error('versions')} />
    </section>
  );
}

function VersionRow({ v, model, admin, actions, selected, onAlias }: { v: VersionView; model: ModelWithVersions; admin: boolean; actions: Actions; selected: boolean; onAlias(version: number): void }) {
  const lineage = lineageOf(v.metadata);
  const metrics = metricsOf(v.metadata).slice(0, 2);
  const aliases = aliasesOf(model, v.version);
  const idle = actions.busy === null;
  const last = model.versions.length === 1;
  const deleteVersion = () => actions.ask({
    where: 'versions',
    title: `Delete version ${v.version} of ${model.name}?`,
    confirmLabel: `Delete v${v.version}`,
    danger: true,
    body: (
      <>
        <p>Its file ({formatBytes(v.sizeBytes)}) is removed for good; requests for v{v.version} will fail.</p>
        {aliases.length > 0 && <p>Its aliases go with it: <strong>{aliases.join(', ')}</strong>.</p>}
        {last && <p>It is the model's only version, so <strong>{model.name}</strong> disappears too.</p>}
      </>
    ),
    run: async () => {
      await api(`/api/models/${enc(model.name)}/versions/${v.version}`, { method: 'DELETE' });
      if (last) navigate('models');
      else if (selected) navigate('models', model.name);
    },
  });

  return (
    <tr data-version={v.version} class={selected ? 'selected' : undefined} aria-current={selected ? 'true' : undefined}>
      <th scope="row">
        <a href={href('models', model.name, v.version)}>v{v.version}<span class="visually-hidden"> details</span></a>
        <span class="badge">{v.format}</span>
      </th>
      <td>{aliases.length > 0 ? aliases.join(', ') : <span class="muted">—</span>}</td>
      <td class="num nowrap">{formatBytes(v.sizeBytes)}</td>
      <td class="num-text nowrap hide-narrow">{formatDate(v.createdAt)}</td>
      <td>
        {lineage ? (
          <a href={href('models', lineage.model, lineage.version)} class="lineage">
            {lineage.model === model.name ? '' : `${lineage.model} `}v{lineage.version}
          </a>
        ) : <span class="muted">—</span>}
        {lineage?.transformation && <small class="muted"> {lineage.transformation}</small>}
      </td>
      <td class="metrics-cell">
        {metrics.length > 0 ? metrics.map((m) => <span key={m.label} class="metric">{m.label} <strong>{formatMetric(m.value)}</strong></span>) : <span class="muted">—</span>}
      </td>
      <td class="loaded-cell">
        {v.loaded ? <span class="state loaded">loaded</span> : <span class="state">not loaded</span>}
        {admin && !v.loaded && (
          <button type="button" class="secondary outline small" disabled={!idle} aria-label={`Load version ${v.version}`}
            onClick={() => actions.run('versions', () => api(`/v2/repository/models/${enc(model.name)}/load`, { method: 'POST', body: { parameters: { version: String(v.version) } } }))}>
            Load
          </button>
        )}
      </td>
      {admin && (
        <td class="row-actions">
          <button type="button" class="secondary outline small" disabled={!idle} onClick={() => onAlias(v.version)} aria-label={`Set alias for version ${v.version}`}>Set alias…</button>
          <button type="button" class="danger outline small" disabled={!idle} onClick={deleteVersion} aria-label={`Delete version ${v.version}`}>Delete</button>
        </td>
      )}
    </tr>
  );
}
