// The playground: try a model in the way that fits its task — draw a digit for an MNIST classifier,
// type text for a text classifier, chat with a generative model, generate images, or send raw tensors
// to anything else. #/playground picks a model; #/playground/<model>[/<kind>] opens one.
import { enc } from '../lib/api';
import { href, navigate } from '../lib/router';
import { useApi } from '../lib/use-api';
import { can, useWho } from '../lib/who';
import { Empty, ErrorBox, Loading } from '../components/status';
import { Chat } from './playground/chat';
import { DigitPad } from './playground/digit-pad';
import { ImageGenerator } from './playground/images';
import { KIND_LABELS, playgroundFor, playgroundsFor, servedVersion, type ModelDetail, type ModelVersion, type PlaygroundKind } from './playground/kind';
import { TensorEditor } from './playground/tensor-editor';
import { TextClassifier } from './playground/text-classifier';

interface ModelList { readonly models: readonly { readonly name: string; readonly latestVersion: number }[] }

export function PlaygroundPage({ params }: { params: readonly string[] }) {
  const [name, view] = params;
  const who = useWho();
  if (!can(who, 'infer')) {
    return (
      <>
        <h1>Playground</h1>
        <Empty title="This key may not run models">The playground sends requests to the models, which needs a key with the <code>infer</code> scope. Ask an admin for one, then log in with it.</Empty>
      </>
    );
  }
  return name === undefined ? <ModelPicker /> : <ModelPlayground key={name} name={name} view={view} />;
}

/** Every model with the playground it opens in (read from each model's served version). */
function ModelPicker() {
  const list = useApi<{ models: { name: string; served?: ModelVersion }[] }>('/api/models?include=served');
  const names = list.data?.models.map((m) => m.name) ?? [];
  const kinds: Record<string, PlaygroundKind> = {};
  for (const m of list.data?.models ?? []) if (m.served) kinds[m.name] = playgroundFor(m.served);

  return (
    <>
      <h1>Playground</h1>
      <p>Pick a model to try. Each opens in the playground that fits its task.</p>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <Loading what="the models" />}
      {list.data && names.length === 0 && <Empty title="No models yet">Push or train one on the <a href={href('models')}>Models</a> page, then come back to try it.</Empty>}
      {names.length > 0 && (
        <ul class="model-picks">
          {names.map((n) => (
            <li key={n}>
              <a href={href('playground', n)}>{n}</a>
              <small class="pick-kind">{kinds[n] ? KIND_LABELS[kinds[n]] : ' '}</small>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function ModelPlayground({ name, view }: { name: string; view: string | undefined }) {
  const detail = useApi<ModelDetail>(`/api/models/${enc(name)}`);
  const list = useApi<ModelList>('/api/models');
  const version = detail.data && servedVersion(detail.data);
  const kinds = version ? playgroundsFor(version) : [];
  const kind = kinds.find((k) => k === view) ?? kinds[0];

  return (
    <>
      <div class="playground-head">
        <h1>
          Playground <small class="mono">{name}{version && `:${version.version}`}</small>
        </h1>
        <label class="model-switch">
          Model
          <select value={name} onChange={(e) => navigate('playground', e.currentTarget.value)}>
            {!list.data?.models.some((m) => m.name === name) && <option value={name}>{name}</option>}
            {list.data?.models.map((m) => <option key={m.name} value={m.name}>{m.name}</option>)}
          </select>
        </label>
      </div>
      <ErrorBox error={detail.error} onRetry={detail.reload} />
      {detail.loading && !detail.data && <Loading what={`model ${name}`} />}
      {detail.data && !version && <Empty title={`Model ${name} has no versions`}>Push a version on the <a href={href('models', name)}>model's page</a> first.</Empty>}
      {version && kind && (
        <>
          {kinds.length > 1 && (
            <nav aria-label="Playground kind" class="kind-tabs">
              <ul>
                {kinds.map((k) => (
                  <li key={k}><a href={href('playground', name, k)} aria-current={k === kind ? 'page' : undefined}>{KIND_LABELS[k]}</a></li>
                ))}
              </ul>
            </nav>
          )}
          {describe(version) && <p class="model-note">{describe(version)}</p>}
          <Playground key={`${version.version}/${kind}`} kind={kind} version={version} />
        </>
      )}
    </>
  );
}

function Playground({ kind, version }: { kind: PlaygroundKind; version: ModelVersion }) {
  switch (kind) {
    case 'digits': return <DigitPad version={version} />;
    case 'text-classifier': return <TextClassifier version={version} />;
    case 'chat': return <Chat version={version} />;
    case 'images': return <ImageGenerator version={version} />;
    case 'tensors': return <TensorEditor version={version} />;
  }
}

function describe(v: ModelVersion): string | undefined {
  const d = v.metadata['description'] ?? (v.metadata['training'] as { spec?: { description?: unknown } } | undefined)?.spec?.description;
  return typeof d === 'string' ? d : undefined;
}
