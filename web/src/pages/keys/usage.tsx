// Usage from the ledger's daily roll-ups (GET /api/usage): requests per tenant and per model as bars,
// and a table by the grouping chosen, over a range of UTC days. Only requests made with a key count.
import { useState } from 'preact/hooks';
import { BarChart } from '../../components/bar-chart';
import { Empty, ErrorBox, Loading } from '../../components/status';
import { enc } from '../../lib/api';
import { useApi, type Loaded } from '../../lib/use-api';
import { dayAgo, type UsageGroup } from './types';

type GroupBy = 'model' | 'tenant' | 'key' | 'day';
interface Answer { usage: UsageGroup[] }

const GROUP_LABEL: Record<GroupBy, string> = { model: 'Model', tenant: 'Tenant', key: 'Key', day: 'Day' };
const int = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);

function RequestBars({ title, data }: { title: string; data: Loaded<Answer> }) {
  const rows = [...(data.data?.usage ?? [])].sort((a, b) => b.requests - a.requests).slice(0, 12);
  return (
    <section>
      <h3>{title}</h3>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {!data.data ? !data.error && <Loading what="usage" /> : rows.length === 0
        ? <Empty title="No requests in these days" />
        : <BarChart title={title} bars={rows.map((r) => ({ label: r.group, value: r.requests }))} format={int} />}
    </section>
  );
}

export function Usage({ tenantFixed }: { tenantFixed: boolean }) {
  const [from, setFrom] = useState(dayAgo(29));
  const [to, setTo] = useState(dayAgo(0));
  const [tenant, setTenant] = useState('');
  const [groupBy, setGroupBy] = useState<GroupBy>('model');
  const q = (g: GroupBy) => `/api/usage?group_by=${g}&from=${enc(from)}&to=${enc(to)}${tenant.trim() ? `&tenant=${enc(tenant.trim())}` : ''}`;
  const byTenant = useApi<Answer>(q('tenant'));
  const byModel = useApi<Answer>(q('model'));
  const table = useApi<Answer>(q(groupBy));
  const rows = table.data?.usage ?? [];

  return (
    <>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); byTenant.reload(); byModel.reload(); table.reload(); }}>
        <label>From<input type="date" name="from" value={from} max={to} onChange={(e) => setFrom((e.target as HTMLInputElement).value)} /></label>
        <label>To<input type="date" name="to" value={to} min={from} onChange={(e) => setTo((e.target as HTMLInputElement).value)} /></label>
        {!tenantFixed && <label>Tenant<input name="tenant" value={tenant} placeholder="all" onChange={(e) => setTenant((e.target as HTMLInputElement).value)} /></label>}
        <button type="submit" class="secondary">Refresh</button>
      </form>
      <small>Days are UTC. Requests made without a key (an open server) are not counted.</small>
      <div class="grid-2">
        <RequestBars title="Requests by tenant" data={byTenant} />
        <RequestBars title="Requests by model" data={byModel} />
      </div>
      <div class="section-head">
        <h3>Usage table</h3>
        <label class="inline">Group by
          <select name="group_by" value={groupBy} onChange={(e) => setGroupBy((e.target as HTMLSelectElement).value as GroupBy)}>
            {(Object.keys(GROUP_LABEL) as GroupBy[]).map((g) => <option key={g} value={g}>{GROUP_LABEL[g].toLowerCase()}</option>)}
          </select>
        </label>
      </div>
      <ErrorBox error={table.error} onRetry={table.reload} />
      {!table.data ? !table.error && <Loading what="usage" /> : rows.length === 0 ? (
        <Empty title="No usage in these days">Requests made with an API key are counted here by tenant, key, model and day.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="striped" aria-label="Usage">
            <thead>
              <tr><th>{GROUP_LABEL[groupBy]}</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">Prompt tokens</th><th class="num">Completion tokens</th><th class="num">Queue s</th><th class="num">Compute s</th></tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.group}>
                  <td class="mono">{r.group}</td>
                  <td class="num">{int(r.requests)}</td>
                  <td class="num">{int(r.errors)}</td>
                  <td class="num">{int(r.promptTokens)}</td>
                  <td class="num">{int(r.completionTokens)}</td>
                  <td class="num">{secs(r.queueMs)}</td>
                  <td class="num">{secs(r.computeMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
