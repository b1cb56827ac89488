// Keys & usage (#/keys, #/keys/usage, #/keys/audit): create and revoke API keys (a new secret is shown
// once), usage per tenant and model from the ledger, and the audit log. Admin scope; a tenant's admin
// key sees and manages its own tenant only, as the API enforces.
import { useState } from 'preact/hooks';
import { href } from '../lib/router';
import { useApi } from '../lib/use-api';
import { can, useWho } from '../lib/who';
import { AuditLog } from './keys/audit';
import { CreateKey } from './keys/create-key';
import { KeyList } from './keys/key-list';
import type { KeyView } from './keys/types';
import { Usage } from './keys/usage';

const TABS = [
  { tab: '', label: 'Keys' },
  { tab: 'usage', label: 'Usage' },
  { tab: 'audit', label: 'Audit log' },
] as const;

export function KeysPage({ params }: { params: readonly string[] }) {
  return <div class="keys-page"><KeysAndUsage tab={params[0] ?? ''} /></div>;
}

function KeysAndUsage({ tab }: { tab: string }) {
  const who = useWho();
  if (!can(who, 'admin')) {
    return (
      <>
        <h1>Keys & usage</h1>
        <div class="error-box" role="alert"><span>Managing keys and reading usage and the audit log need a key with the <code>admin</code> scope; this one has {who.scopes.join(', ')}.</span></div>
      </>
    );
  }
  // the admin tenant's admin keys see every tenant; any other tenant's, its own
  const tenantFixed = !who.anonymous && who.tenant !== 'admin';
  return (
    <>
      <h1>Keys & usage</h1>
      <nav class="tabs" aria-label="Keys & usage">
        <ul>
          {TABS.map((t) => (
            <li key={t.tab}><a href={t.tab ? href('keys', t.tab) : href('keys')} aria-current={tab === t.tab ? 'page' : undefined}>{t.label}</a></li>
          ))}
        </ul>
      </nav>
      {tab === 'usage' ? <Usage tenantFixed={tenantFixed} />
        : tab === 'audit' ? <AuditLog tenantFixed={tenantFixed} />
          : tab === '' ? <Keys tenant={who.tenant ?? 'admin'} tenantFixed={tenantFixed} me={who.keyId} />
            : <p role="alert">There is no “{tab}” here. <a href={href('keys')}>Back to the keys</a>.</p>}
    </>
  );
}

function Keys({ tenant, tenantFixed, me }: { tenant: string; tenantFixed: boolean; me: string | undefined }) {
  const keys = useApi<{ keys: KeyView[] }>('/api/keys');
  const [creating, setCreating] = useState(false);
  return (
    <>
      <div class="section-head">
        <p>Each client or person gets its own key with only the scopes it needs; revoke it when it leaks or leaves.</p>
        <button type="button" onClick={() => setCreating(true)}>Create key</button>
      </div>
      <KeyList keys={keys} me={me} />
      <CreateKey open={creating} tenant={tenant} tenantFixed={tenantFixed} onClose={() => setCreating(false)} onCreated={keys.reload} />
    </>
  );
}
