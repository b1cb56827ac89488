// #/models: every model the key may see, what each serves, and (for admin keys) an upload form.
import { useApi } from '../../lib/use-api';
import { href } from '../../lib/router';
import { can, useWho } from '../../lib/who';
import { Empty, ErrorBox, Loading } from '../../components/status';
import { DEFAULT_ALIAS, formatDate, servedVersion, type ModelSummary } from './model-data';
import { UploadForm } from './upload-form';
import { AliasChips } from './alias-chips';

export function ModelList() {
  const who = useWho();
  const admin = can(who, 'admin');
  const models = useApi<{ models: ModelSummary[] }>('/api/models');
  const list = models.data?.models;

  return (
    <>
      <hgroup>
        <h1>Models</h1>
        <p>Each model has numbered versions; aliases such as <code>{DEFAULT_ALIAS}</code> name the version a client gets.</p>
      </hgroup>
      <ErrorBox error={models.error} onRetry={models.reload} />
      {list === undefined && !models.error && <Loading what="models" />}
      {list?.length === 0 && (
        <Empty title="No models yet">
          {admin ? 'Upload an .onnx or .gguf file below, push one with “ferry models push”, or train one on the Training page.' : 'An admin key can upload models; this key may only use them.'}
        </Empty>
      )}
      {list && list.length > 0 && (
        <div class="table-wrap">
          <table class="models-table">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col" class="num">Serves</th>
                <th scope="col" class="num hide-narrow">Versions</th>
                <th scope="col">Aliases</th>
                <th scope="col" class="hide-narrow">Created</th>
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.name} data-model={m.name}>
                  <th scope="row"><a href={href('models', m.name)}>{m.name}</a></th>
                  <td class="num">v{servedVersion(m)}</td>
                  <td class="num hide-narrow">{m.versions.length}</td>
                  <td><AliasChips aliases={m.aliases} /></td>
                  <td class="hide-narrow num-text">{formatDate(m.createdAt)}</td>
                  <td class="nowrap"><a href={href('playground', m.name)} class="small">Try it<span class="visually-hidden"> with {m.name}</span></a></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {admin && (
        <section aria-labelledby="upload-title">
          <h2 id="upload-title">Upload a model</h2>
          <p>A new name makes a new model; an existing name adds its next version.</p>
          <UploadForm onUploaded={models.reload} />
        </section>
      )}
    </>
  );
}
