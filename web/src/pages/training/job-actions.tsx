// What can be done with a job: stop it while it runs, and once it has registered its model, point an
// alias at the new version (the "deploy" of issue 7). Both ask first, in a native dialog.
import { useState } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import { href } from '../../lib/router';
import { Confirm } from '../../components/confirm';
import { ErrorBox } from '../../components/status';
import type { JobRecord, ModelVersionRef } from './types';

export function CancelJob({ job }: { job: JobRecord }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const cancel = async () => {
    setAsking(false);
    setBusy(true);
    setError(undefined);
    try {
      // a running job stops between two steps; the event stream then says 'cancelled'
      await api<JobRecord>(`/api/training-jobs/${enc(job.id)}`, { method: 'DELETE' });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="training-cancel">
      <button type="button" class="secondary" onClick={() => setAsking(true)} aria-busy={busy} disabled={busy}>Cancel job</button>
      <ErrorBox error={error} />
      <Confirm open={asking} title={`Stop training ${job.spec.name}?`} confirmLabel="Stop the job" danger onConfirm={cancel} onCancel={() => setAsking(false)}>
        <p>The job stops after the batch it is on. Nothing is registered, and it cannot be resumed.</p>
      </Confirm>
    </div>
  );
}

interface AliasMoved {
  readonly alias: string;
  readonly version: number;
  readonly previous: number | null;
}

export function Deploy({ result, canDeploy }: { result: ModelVersionRef; canDeploy: boolean }) {
  const [alias, setAlias] = useState('prod');
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [moved, setMoved] = useState<AliasMoved>();
  const { model, version } = result;
  const deploy = async () => {
    setAsking(false);
    setBusy(true);
    setError(undefined);
    try {
      setMoved(await api<AliasMoved>(`/api/models/${enc(model)}/aliases/${enc(alias)}`, { method: 'PUT', body: { version } }));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="training-result">
      <p>
        Registered as <a href={href('models', model)}><strong>{model}</strong></a> version <strong class="num">{version}</strong>.
      </p>
      {canDeploy && (
        <form class="training-deploy" onSubmit={(e) => { e.preventDefault(); setAsking(true); }}>
          <label>
            Alias
            <input name="alias" value={alias} onInput={(e) => setAlias(e.currentTarget.value.trim())} required autocomplete="off" spellcheck={false} />
          </label>
          <button type="submit" aria-busy={busy} disabled={busy || alias === ''}>Deploy</button>
        </form>
      )}
      {moved && (
        <p role="status">
          <strong>{model}:{moved.alias}</strong> now serves version {moved.version}
          {moved.previous !== null && moved.previous !== moved.version ? ` (was version ${moved.previous})` : ''}.
        </p>
      )}
      <ErrorBox error={error} />
      <Confirm open={asking} title={`Deploy ${model} version ${version}?`} confirmLabel={`Move ${alias}`} onConfirm={deploy} onCancel={() => setAsking(false)}>
        <p>
          The alias <strong>{alias}</strong> of {model} will point at version {version}: requests for {model}:{alias} go to it
          once it has loaded.
        </p>
      </Confirm>
    </div>
  );
}
