// The audit log (GET /api/audit): every management action and every refused management request,
// newest first, filtered by tenant, action and a start time, 25 rows a page. The API answers oldest
// first up to `limit` rows, so the page asks for a recent span (From: a week ago) and turns it round.
import { useState } from 'preact/hooks';
import { Empty, ErrorBox, Loading } from '../../components/status';
import { enc } from '../../lib/api';
import { useApi } from '../../lib/use-api';
import { dayAgo, when, type AuditEntry } from './types';

// src/security/audit.ts ACTIONS: the management actions as the log names them
const ACTIONS = ['key.create', 'key.revoke', 'model.push', 'model.delete_version', 'model.delete', 'alias.move', 'alias.delete',
  'model.share', 'model.unshare', 'training.create', 'training.cancel', 'model.load', 'model.unload'];
const LIMIT = 1000;
const PAGE = 25;

export function AuditLog({ tenantFixed }: { tenantFixed: boolean }) {
  const [tenant, setTenant] = useState('');
  const [action, setAction] = useState('');
  const [from, setFrom] = useState(dayAgo(7));
  const [page, setPage] = useState(0);
  const path = `/api/audit?limit=${LIMIT}&from=${enc(from)}${tenant.trim() ? `&tenant=${enc(tenant.trim())}` : ''}${action ? `&action=${enc(action)}` : ''}`;
  const log = useApi<{ entries: AuditEntry[] }>(path);
  const entries = [...(log.data?.entries ?? [])].reverse();
  const pages = Math.max(1, Math.ceil(entries.length / PAGE));
  const shown = entries.slice(page * PAGE, (page + 1) * PAGE);
  const filter = <T,>(set: (v: T) => void) => (v: T) => { set(v); setPage(0); };

  return (
    <>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); log.reload(); }}>
        {!tenantFixed && <label>Tenant<input name="audit-tenant" value={tenant} placeholder="all" onChange={(e) => filter(setTenant)((e.target as HTMLInputElement).value)} /></label>}
        <label>Action
          <select name="action" value={action} onChange={(e) => filter(setAction)((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {ACTIONS.map((a) => <option key={a} value={a}>{a}</option>)}
          </select>
        </label>
        <label>From<input type="date" name="audit-from" value={from} onChange={(e) => filter(setFrom)((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" class="secondary">Refresh</button>
      </form>
      <ErrorBox error={log.error} onRetry={log.reload} />
      {!log.data ? !log.error && <Loading what="the audit log" /> : entries.length === 0 ? (
        <Empty title="Nothing logged for these filters">Key, model, alias, share and training changes are logged here, and every refused management request.</Empty>
      ) : (
        <>
          {entries.length === LIMIT && <p role="status"><small>These are the first {LIMIT} entries from {from}: move From later to see newer ones.</small></p>}
          <div class="table-wrap">
            <table class="striped" aria-label="Audit log">
              <thead>
                <tr><th>Time</th><th>Action</th><th>Target</th><th>Outcome</th><th>Tenant</th><th>Key</th><th>From</th></tr>
              </thead>
              <tbody>
                {shown.map((e, i) => (
                  <tr key={`${page}-${i}`}>
                    <td class="nowrap">{when(e.time)}</td>
                    <td>{e.action}</td>
                    <td class="mono">{e.target ?? '—'}</td>
                    <td><span class={`badge ${e.outcome === 'ok' ? 'active' : 'revoked'}`}>{e.outcome} {e.status}</span></td>
                    <td>{e.tenant ?? '—'}</td>
                    <td class="mono">{e.keyId ?? '—'}</td>
                    <td class="mono">{e.ip}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Audit log pages">
            <button type="button" class="secondary outline small" disabled={page === 0} onClick={() => setPage(page - 1)}>Newer</button>
            <small class="num">page {page + 1} of {pages} · {entries.length} entries</small>
            <button type="button" class="secondary outline small" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Older</button>
          </nav>
        </>
      )}
    </>
  );
}
