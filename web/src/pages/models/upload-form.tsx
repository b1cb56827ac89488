// Uploading a model file as a new version: an .onnx or .gguf file as is, or a tar of a Hugging Face
// model folder with the task it serves. The progress bar shows the bytes sent; after the last byte the
// server still checks (test-loads) the model, which the status line says.
import { useEffect, useRef, useState } from 'preact/hooks';
import { enc } from '../../lib/api';
import { href } from '../../lib/router';
import { upload } from '../../lib/upload';
import { ErrorBox } from '../../components/status';
import { formatBytes, type VersionView } from './model-data';

/** The Hugging Face tasks a tar upload can serve (TEXT_TASKS in src/tasks/text-runtime.ts). */
const TASKS = ['text-classification', 'feature-extraction'] as const;

type Kind = 'model' | 'tar' | 'gzip';

function kindOf(file: File): Kind {
  const n = file.name.toLowerCase();
  if (n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'gzip';
  if (n.endsWith('.tar')) return 'tar';
  return 'model';
}

const CONTENT_TYPE: Record<Kind, string> = { model: 'application/octet-stream', tar: 'application/x-tar', gzip: 'application/gzip' };

type Progress = { state: 'idle' } | { state: 'sending'; sent: number; total: number } | { state: 'checking'; total: number } | { state: 'done'; version: VersionView };

export function UploadForm({ model, onUploaded }: { model?: string; onUploaded(v: VersionView): void }) {
  const [name, setName] = useState(model ?? '');
  const [file, setFile] = useState<File | null>(null);
  const [task, setTask] = useState<string>(TASKS[0]);
  const [description, setDescription] = useState('');
  const [progress, setProgress] = useState<Progress>({ state: 'idle' });
  const [error, setError] = useState<string>();
  const abort = useRef<AbortController | null>(null);
  // leaving the page stops an upload in flight rather than finishing it unseen
  useEffect(() => () => abort.current?.abort(), []);
  const busy = progress.state === 'sending' || progress.state === 'checking';
  const kind = file ? kindOf(file) : 'model';
  const target = (model ?? name).trim();

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file || !target) return;
    setError(undefined);
    const ctrl = new AbortController();
    abort.current = ctrl;
    const q = new URLSearchParams();
    if (kind !== 'model') q.set('task', task);
    if (description.trim()) q.set('description', description.trim());
    const query = q.size > 0 ? `?${q}` : '';
    setProgress({ state: 'sending', sent: 0, total: file.size });
    try {
      const v = await upload<VersionView>(`/api/models/${enc(target)}/versions${query}`, file, {
        contentType: CONTENT_TYPE[kind],
        signal: ctrl.signal,
        onProgress: (sent, total) => setProgress(sent >= total ? { state: 'checking', total } : { state: 'sending', sent, total }),
      });
      setProgress({ state: 'done', version: v });
      onUploaded(v);
    } catch (err) {
      setProgress({ state: 'idle' });
      if ((err as Error).name !== 'AbortError') setError((err as Error).message);
    } finally {
      abort.current = null;
    }
  };

  const fraction = progress.state === 'sending' ? progress.sent / Math.max(1, progress.total) : progress.state === 'idle' ? 0 : 1;
  return (
    <form class="upload-form" onSubmit={submit} aria-label={model ? `Upload a new version of ${model}` : 'Upload a model'}>
      <div class="upload-fields">
        {model === undefined && (
          <label>
            Model name
            <input name="model" value={name} required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}" title="letters, digits, ., _ or -, starting with a letter or digit" placeholder="e.g. mnist-cnn" autocomplete="off"
              onInput={(e) => setName(e.currentTarget.value)} disabled={busy} />
          </label>
        )}
        <label>
          Model file
          <input type="file" name="file" accept=".onnx,.gguf,.tar,.tar.gz,.tgz" required disabled={busy}
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          <small>.onnx or .gguf, or a .tar / .tar.gz of a Hugging Face model folder</small>
        </label>
        {kind !== 'model' && (
          <label>
            Task
            <select name="task" value={task} onChange={(e) => setTask(e.currentTarget.value)} disabled={busy}>
              {TASKS.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </label>
        )}
        <label>
          Description <small>(optional)</small>
          <input name="description" value={description} maxLength={500} onInput={(e) => setDescription(e.currentTarget.value)} disabled={busy} />
        </label>
      </div>
      <div class="upload-actions">
        <button type="submit" disabled={busy || !file || !target} aria-busy={busy}>Upload</button>
        {busy && <button type="button" class="secondary outline" onClick={() => abort.current?.abort()}>Cancel</button>}
      </div>
      <div class="upload-status">
        <progress value={fraction} max={1} aria-label="Upload progress" data-state={progress.state} />
        <span role="status" class="num-text">
          {progress.state === 'sending' && `Sending ${Math.round(fraction * 100)}% of ${formatBytes(progress.total)}…`}
          {progress.state === 'checking' && `Sent ${formatBytes(progress.total)}; Ferry is checking the model…`}
          {progress.state === 'done' && (
            <>Uploaded <a href={href('models', progress.version.model, progress.version.version)}>{progress.version.model} version {progress.version.version}</a> ({formatBytes(progress.version.sizeBytes)}).</>
          )}
        </span>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}
