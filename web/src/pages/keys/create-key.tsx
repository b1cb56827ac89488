// Making a key: a form in a native <dialog>, then the new secret, shown this once with a Copy
// button. The secret lives in this component's state only — never in storage, never in the list —
// and is dropped the moment the dialog closes (Done, Escape or the backdrop).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { ErrorBox } from '../../components/status';
import { SCOPES, type CreatedKey, type KeyScope } from './types';

interface Form {
  tenant: string;
  name: string;
  scopes: KeyScope[];
  models: string;
  expires: string;
  rpm: string;
  tpm: string;
  concurrency: string;
}

const BLANK = (tenant: string): Form => ({ tenant, name: '', scopes: ['infer'], models: '', expires: '', rpm: '', tpm: '', concurrency: '' });

/** POST /api/keys's body from the form: blank fields are left out (no limit, all models, never expires). */
export function keyRequest(f: Form): Record<string, unknown> {
  const n = (v: string) => (v.trim() === '' ? undefined : Number(v));
  const limits = { rpm: n(f.rpm), tpm: n(f.tpm), concurrency: n(f.concurrency) };
  const models = f.models.split(',').map((m) => m.trim()).filter((m) => m !== '');
  return {
    tenant: f.tenant.trim(),
    scopes: f.scopes,
    ...(f.name.trim() ? { name: f.name.trim() } : {}),
    ...(models.length > 0 ? { models } : {}),
    ...(f.expires.trim() ? { expires: f.expires.trim() } : {}),
    ...(Object.values(limits).some((v) => v !== undefined) ? { limits } : {}),
  };
}

export function CreateKey({ open, tenant, tenantFixed, onClose, onCreated }: { open: boolean; tenant: string; tenantFixed: boolean; onClose(): void; onCreated(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [form, setForm] = useState<Form>(() => BLANK(tenant));
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<CreatedKey | null>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>();
  const secretRef = useRef<HTMLElement>(null);

  useEffect(() => {
    const d = ref.current!;
    if (open && !d.open) {
      setForm(BLANK(tenant));
      setError(undefined);
      d.showModal();
    }
    if (!open && d.open) d.close();
  }, [open]);

  const close = () => {
    // the secret goes with the dialog
    setMade(null);
    setCopied(undefined);
    onClose();
  };
  const set = (k: keyof Form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const toggle = (s: KeyScope) => setForm({ ...form, scopes: form.scopes.includes(s) ? form.scopes.filter((x) => x !== s) : [...form.scopes, s] });

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const key = await api<CreatedKey>('/api/keys', { body: keyRequest(form) });
      setMade(key);
      onCreated();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(made!.key);
      setCopied('yes');
    } catch {
      // no clipboard permission (plain http, a locked-down browser): select it for Ctrl+C instead
      const sel = getSelection();
      if (sel && secretRef.current) sel.selectAllChildren(secretRef.current);
      setCopied('no');
    }
  };

  return (
    <dialog ref={ref} onClose={close} aria-labelledby="create-key-title" class="wide-dialog">
      <article>
        {made ? (
          <>
            <h3 id="create-key-title">Key {made.id} created</h3>
            <p class="warning" role="alert"><strong>Copy this key now.</strong> Ferry keeps only its hash: this is the only time it is shown, and it is gone when you close this dialog.</p>
            <code class="secret mono" ref={secretRef} data-secret>{made.key}</code>
            <p>
              <button type="button" class="secondary" onClick={() => void copy()}>Copy</button>{' '}
              <small role="status">{copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'The browser refused the clipboard; the key is selected, press Ctrl+C.' : ''}</small>
            </p>
            <footer><button type="button" onClick={close}>Done, I have stored it</button></footer>
          </>
        ) : (
          <form onSubmit={(e) => void submit(e)}>
            <h3 id="create-key-title">Create an API key</h3>
            <ErrorBox error={error} />
            <div class="grid-2 form-grid">
              <label>Tenant
                <input name="tenant" required value={form.tenant} readOnly={tenantFixed} onInput={set('tenant')} aria-describedby="tenant-help" />
                <small id="tenant-help">{tenantFixed ? 'Your key can create keys for its own tenant only.' : 'Lowercase letters, digits and dashes.'}</small>
              </label>
              <label>Name <small>(optional)</small>
                <input name="name" value={form.name} onInput={set('name')} placeholder="what the key is for" />
              </label>
            </div>
            <fieldset>
              <legend>Scopes</legend>
              <div class="scopes">
                {SCOPES.map((s) => (
                  <label key={s}><input type="checkbox" name="scopes" value={s} checked={form.scopes.includes(s)} onChange={() => toggle(s)} /> {s}</label>
                ))}
              </div>
            </fieldset>
            <div class="grid-2 form-grid">
              <label>Models <small>(optional)</small>
                <input name="models" value={form.models} onInput={set('models')} placeholder="mnist, sentiment — empty: all" />
              </label>
              <label>Expires <small>(optional)</small>
                <input name="expires" value={form.expires} onInput={set('expires')} placeholder="30d, 12h or 2026-01-31 — empty: never" />
              </label>
            </div>
            <details>
              <summary>Limits</summary>
              <div class="limits">
                <label>Requests/min<input name="rpm" type="number" min="1" inputMode="numeric" value={form.rpm} onInput={set('rpm')} /></label>
                <label>Tokens/min<input name="tpm" type="number" min="1" inputMode="numeric" value={form.tpm} onInput={set('tpm')} /></label>
                <label>Concurrent<input name="concurrency" type="number" min="1" inputMode="numeric" value={form.concurrency} onInput={set('concurrency')} /></label>
              </div>
            </details>
            <footer>
              <button type="button" class="secondary" onClick={close}>Cancel</button>
              <button type="submit" aria-busy={busy} disabled={busy || form.scopes.length === 0}>Create key</button>
            </footer>
          </form>
        )}
      </article>
    </dialog>
  );
}
