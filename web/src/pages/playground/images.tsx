// Generate images with a model that draws from a latent vector (POST /v1/images/generations). The
// models are unconditional: the prompt is required by OpenAI's shape but does not steer the picture;
// the seed does, and the answer's seed replays the same images.
import { useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { ErrorBox } from '../../components/status';
import type { ModelVersion } from './kind';

interface Images {
  readonly data: readonly { readonly b64_json: string }[];
  readonly seed: number;
  readonly size: string;
}

/** each image is shown this many CSS pixels wide, whatever the model's size: the grid never jumps */
const TILE = 112;

export function ImageGenerator({ version }: { version: ModelVersion }) {
  const [count, setCount] = useState(4);
  const [seed, setSeed] = useState('');
  const [answer, setAnswer] = useState<Images>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const generate = async () => {
    setBusy(true);
    try {
      const body = { model: `${version.model}:${version.version}`, prompt: 'an image', n: count, ...(seed.trim() !== '' ? { seed: Number(seed) } : {}) };
      setAnswer(await api<Images>('/v1/images/generations', { body }));
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <form class="image-form" onSubmit={(e) => { e.preventDefault(); void generate(); }}>
        <label>
          Images
          <input type="number" min={1} max={16} value={count} onInput={(e) => setCount(Math.min(16, Math.max(1, Math.floor(Number(e.currentTarget.value) || 1))))} />
        </label>
        <label>
          Seed <small>(empty: a new one)</small>
          <input type="number" inputMode="numeric" value={seed} onInput={(e) => setSeed(e.currentTarget.value)} />
        </label>
        <button type="submit" aria-busy={busy} disabled={busy}>Generate</button>
      </form>
      <ErrorBox error={error} />
      <p aria-live="polite" class="prediction">
        {answer ? <>{answer.data.length} images of {answer.size}, seed <span class="num" data-seed={answer.seed}>{answer.seed}</span> (the same seed draws them again)</> : 'Press Generate to draw images.'}
      </p>
      <ul class="image-grid">
        {answer?.data.map((d, i) => (
          <li key={`${answer.seed}-${i}`}><img src={`data:image/png;base64,${d.b64_json}`} width={TILE} height={TILE} alt={`generated image ${i + 1} of ${answer.data.length}`} /></li>
        ))}
      </ul>
    </div>
  );
}
