// Start a job: pick a recipe (its spec appears, editable, in the textarea) or paste a spec; the
// quick fields change the few things a user changes most (the name, epochs, how many examples) so
// a short run is two edits away. The server checks the spec and names the field that is wrong.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { navigate } from '../../lib/router';
import { useApi } from '../../lib/use-api';
import { ErrorBox } from '../../components/status';
import { getField, parseSpecText, sizeFields, specText, withField, type Parsed } from './spec-text';
import type { JobRecord, Recipe } from './types';

const OWN = '';
const DEFAULT_RECIPE = 'mnist-mlp';
const EXAMPLE = specText({
  name: 'my-digits', dataset: { type: 'mnist', train: 1000, test: 200 }, model: [{ type: 'Linear', in: 784, out: 10 }],
  loss: 'crossEntropy', optimizer: { type: 'adam', lr: 0.001 }, epochs: 3, batchSize: 64, seed: 0,
});

export function NewJob() {
  const recipes = useApi<{ recipes: Recipe[] }>('/api/training/recipes');
  const [recipe, setRecipe] = useState<string>();
  const [text, setText] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string>();
  const parsed = useMemo(() => parseSpecText(text), [text]);
  const list = recipes.data?.recipes ?? [];

  // the server's last answer is about the text it was sent: an edit makes it stale
  const edit = (next: string) => {
    setText(next);
    setError(undefined);
  };
  const pick = (name: string) => {
    setRecipe(name);
    const r = list.find((x) => x.name === name);
    edit(r ? specText(r.spec) : '');
  };
  // the first recipe list fills the form once; a user's own choice is never overwritten
  useEffect(() => {
    if (recipe === undefined && list.length > 0) pick(list.some((r) => r.name === DEFAULT_RECIPE) ? DEFAULT_RECIPE : list[0]!.name);
  }, [list.length]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!parsed.spec) {
      setError(parsed.error);
      return;
    }
    setSubmitting(true);
    setError(undefined);
    try {
      const job = await api<JobRecord>('/api/training-jobs', { body: parsed.spec });
      navigate('training', job.id);
    } catch (err) {
      setError((err as Error).message);
      setSubmitting(false);
    }
  };

  const description = list.find((r) => r.name === recipe)?.description;
  return (
    <form class="training-new" onSubmit={submit} aria-labelledby="new-job-title">
      <h2 id="new-job-title">Start a job</h2>
      <ErrorBox error={recipes.error && `Could not load the recipes: ${recipes.error}. You can still paste a spec.`} onRetry={recipes.reload} />
      <label>
        Start from
        <select name="recipe" value={recipe ?? OWN} onChange={(e) => pick(e.currentTarget.value)} aria-describedby="recipe-description">
          {list.map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
          <option value={OWN}>my own spec (paste it below)</option>
        </select>
      </label>
      <small id="recipe-description" class="training-hint">{recipe === OWN ? 'Paste a training spec as JSON; the greyed-out example shows its shape.' : description ?? ' '}</small>
      <QuickFields parsed={parsed} onText={edit} />
      <label>
        Spec (JSON)
        <textarea
          name="spec" class="training-spec-text" rows={16} spellcheck={false} autocomplete="off" placeholder={EXAMPLE}
          value={text} onInput={(e) => edit(e.currentTarget.value)}
          aria-invalid={text !== '' && parsed.error ? true : undefined} aria-describedby="spec-problem"
        />
      </label>
      <small id="spec-problem" class={`training-hint${text !== '' && parsed.error ? ' training-problem' : ''}`}>{text !== '' && parsed.error ? parsed.error : 'The spec is sent as it is; the server names any field it cannot use.'}</small>
      <ErrorBox error={error} />
      <button type="submit" aria-busy={submitting} disabled={submitting}>Start training</button>
    </form>
  );
}

/** Name, epochs and dataset sizes, read from and written into the spec's text. */
function QuickFields({ parsed, onText }: { parsed: Parsed; onText(t: string): void }) {
  const spec = parsed.spec;
  const sizes = spec ? sizeFields(spec) : {};
  const field = (label: string, path: readonly string[] | undefined, type: 'text' | 'number') => {
    const value = spec && path ? getField(spec, path) : undefined;
    const set = (raw: string) => {
      if (!spec || !path) return;
      // an emptied number field is sent as null: the server then says what the field needs
      onText(withField(spec, path, type === 'number' ? (raw === '' ? null : Number(raw)) : raw));
    };
    const common = {
      name: path?.join('.') ?? label, value: value === undefined || value === null ? '' : String(value), disabled: !path || !spec,
      onInput: (e: { currentTarget: HTMLInputElement }) => set(e.currentTarget.value), autocomplete: 'off', spellcheck: false,
    };
    return (
      <label>
        {label}
        {type === 'number' ? <input type="number" min={1} inputMode="numeric" {...common} /> : <input type="text" {...common} />}
      </label>
    );
  };
  return (
    <fieldset class="training-quick">
      <legend>Quick changes</legend>
      {field('Model name', ['name'], 'text')}
      {field('Epochs', ['epochs'], 'number')}
      {field('Train examples', sizes.train, 'number')}
      {field('Test examples', sizes.test, 'number')}
    </fieldset>
  );
}
