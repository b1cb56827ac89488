// #/models/<name>[/<version>]: one model's aliases, versions and the chosen version in full, with the
// admin's actions (move an alias, load, unload, delete, upload a new version).
import { useState } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import { useApi } from '../../lib/use-api';
import { href, navigate } from '../../lib/router';
import { can, useWho } from '../../lib/who';
import { ErrorBox, Loading } from '../../components/status';
import { useActions } from './actions';
import { AliasPanel, type AliasDraft } from './alias-panel';
import { servedVersion, type ModelWithVersions } from './model-data';
import { UploadForm } from './upload-form';
import { VersionDetails } from './version-details';
import { VersionsTable } from './versions-table';

export function ModelPage({ name, version }: { name: string; version: number | undefined }) {
  const admin = can(useWho(), 'admin');
  const loaded = useApi<ModelWithVersions>(`/api/models/${enc(name)}`);
  const { actions, dialog } = useActions(loaded.reload);
  const [draft, setDraft] = useState<AliasDraft | null>(null);
  const edit = (alias: string | undefined, ver: number) => setDraft((d) => ({ ...(alias !== undefined ? { alias } : {}), version: ver, seq: (d?.seq ?? 0) + 1 }));
  const m = loaded.data?.name === name ? loaded.data : undefined;

  const header = (
    <nav aria-label="Breadcrumb" class="breadcrumb">
      <ul><li><a href={href('models')}>Models</a></li><li>{name}</li></ul>
    </nav>
  );
  if (!m) {
    return (
      <>
        {header}
        <h1>{name}</h1>
        <ErrorBox error={loaded.error} onRetry={loaded.reload} />
        {loaded.error ? <p><a href={href('models')}>Back to the models</a></p> : <Loading what={name} />}
      </>
    );
  }

  const shown = version ?? servedVersion(m);
  const v = m.versions.find((x) => x.version === shown);
  const inMemory = m.versions.filter((x) => x.loaded).length;
  const idle = actions.busy === null;
  return (
    <>
      {header}
      <div class="page-head">
        <h1>{m.name}</h1>
        <div class="head-actions">
          <a href={href('playground', m.name)} class="try-it">Try it →</a>
          {admin && (
            <button type="button" class="secondary outline small" disabled={!idle || inMemory === 0} aria-busy={actions.busy === 'model'}
              title="frees the memory of every loaded version; the next request loads the served one again"
              onClick={() => actions.run('model', () => api(`/v2/repository/models/${enc(m.name)}/unload`, { method: 'POST', body: {} }))}>
              Unload
            </button>
          )}
          {admin && (
            <button type="button" class="danger outline small" disabled={!idle}
              onClick={() => actions.ask({
                where: 'model', title: `Delete ${m.name}?`, confirmLabel: `Delete ${m.name}`, danger: true,
                body: <p>All {m.versions.length} version{m.versions.length === 1 ? '' : 's'} and their aliases are removed for good; requests for {m.name} will fail.</p>,
                run: async () => {
                  await api(`/api/models/${enc(m.name)}`, { method: 'DELETE' });
                  navigate('models');
                },
              })}>
              Delete model
            </button>
          )}
        </div>
      </div>
      <p class="summary num-text">
        Serves <strong>v{servedVersion(m)}</strong> · {m.versions.length} version{m.versions.length === 1 ? '' : 's'} ·{' '}
        <span data-testid="in-memory">{inMemory === 0 ? 'none in memory' : `${inMemory} in memory`}</span>
      </p>
      <ErrorBox error={actions.error('model')} />
      {loaded.error && <ErrorBox error={`Could not refresh: ${loaded.error}`} onRetry={loaded.reload} />}

      <AliasPanel model={m} admin={admin} actions={actions} draft={draft} onEdit={edit} />
      <VersionsTable model={m} admin={admin} actions={actions} selected={v?.version}
        onAlias={(ver) => edit(undefined, ver)} />
      {v ? <VersionDetails model={m} v={v} /> : <p role="alert">{m.name} has no version {shown}. <a href={href('models', m.name)}>Show the served version</a>.</p>}
      {admin && (
        <section aria-labelledby="upload-title">
          <h2 id="upload-title">Upload a new version</h2>
          <UploadForm model={m.name} onUploaded={loaded.reload} />
        </section>
      )}
      {dialog}
    </>
  );
}
