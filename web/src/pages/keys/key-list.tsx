// The keys (never their secrets or hashes), newest first, each active one with a Revoke that asks
// first. Revoking the key this tab is logged in with logs the tab out, and the dialog says so.
import { useState } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import { Confirm } from '../../components/confirm';
import { Empty, ErrorBox, Loading } from '../../components/status';
import type { Loaded } from '../../lib/use-api';
import { when, type KeyView } from './types';

function status(k: KeyView, now: number): 'revoked' | 'expired' | 'active' {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return 'expired';
  return 'active';
}

function limitsText(k: KeyView): string {
  const l = k.limits;
  const parts = [l.rpm && `${l.rpm} rpm`, l.tpm && `${l.tpm} tpm`, l.concurrency && `${l.concurrency} at once`, l.budget && `budget/${l.budget.period}`].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : '—';
}

export function KeyList({ keys, me }: { keys: Loaded<{ keys: KeyView[] }>; me: string | undefined }) {
  const [revoking, setRevoking] = useState<KeyView | null>(null);
  const [error, setError] = useState<string>();
  const now = Date.now();

  const revoke = async (k: KeyView) => {
    setRevoking(null);
    try {
      await api(`/api/keys/${enc(k.id)}`, { method: 'DELETE' });
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
    keys.reload();
  };

  if (!keys.data) return keys.error ? <ErrorBox error={keys.error} onRetry={keys.reload} /> : <Loading what="keys" />;
  const list = keys.data.keys;
  return (
    <>
      <ErrorBox error={error ?? keys.error} onRetry={keys.reload} />
      {list.length === 0 ? (
        <Empty title="No keys yet">Create one for each client or person, with only the scopes it needs.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="striped" aria-label="API keys">
            <thead>
              <tr><th>Key</th><th>Tenant</th><th>Scopes</th><th>Models</th><th>Limits</th><th>Created</th><th>Expires</th><th>Status</th><th><span class="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {list.map((k) => {
                const st = status(k, now);
                return (
                  <tr key={k.id} data-key-id={k.id}>
                    <td><span class="mono key-id">{k.id}</span>{k.id === me && <small> (this tab)</small>}{k.name && <><br /><small>{k.name}</small></>}</td>
                    <td>{k.tenant}</td>
                    <td>{k.scopes.join(', ')}</td>
                    <td>{k.models ? k.models.join(', ') : 'all'}</td>
                    <td>{limitsText(k)}</td>
                    <td class="nowrap">{when(k.createdAt)}</td>
                    <td class="nowrap">{k.expiresAt ? when(k.expiresAt) : 'never'}</td>
                    <td><span class={`badge ${st}`}>{st}</span></td>
                    <td>{st !== 'revoked' && <button type="button" class="secondary outline small" aria-label={`Revoke ${k.id}`} onClick={() => setRevoking(k)}>Revoke</button>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Confirm open={revoking !== null} title={`Revoke key ${revoking?.id ?? ''}?`} confirmLabel="Revoke" danger
        onConfirm={() => revoking && void revoke(revoking)} onCancel={() => setRevoking(null)}>
        <p>Requests with this key are refused (401) from now on. This cannot be undone; the key stays in the list as revoked.</p>
        {revoking?.id === me && <p><strong>This is the key this tab is logged in with: you will be logged out.</strong></p>}
      </Confirm>
    </>
  );
}
