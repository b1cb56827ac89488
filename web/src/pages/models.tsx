// The Models page (issue 7): #/models lists the models, #/models/<name>[/<version>] shows one.
import { ModelList } from './models/model-list';
import { ModelPage } from './models/model-page';

export function ModelsPage({ params }: { params: readonly string[] }) {
  const [name, version] = params;
  const n = version === undefined ? undefined : Number(version);
  return (
    <div class="models-page">
      {name === undefined ? <ModelList /> : <ModelPage key={name} name={name} version={n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined} />}
    </div>
  );
}
