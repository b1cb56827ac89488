// Every model with traffic and its latest numbers; a row's name opens that model's charts.
import { href } from '../../lib/router';
import { DASH, fmtLatency, fmtRate } from './format';
import type { Point } from './series';

export function ModelsTable({ models, point, selected }: { models: readonly string[]; point: Point | undefined; selected: string }) {
  return (
    <div class="table-wrap">
      <table class="striped" aria-label="Models with traffic">
        <thead>
          <tr><th>Model</th><th class="num">req/s</th><th class="num">p50</th><th class="num">p99</th><th class="num">queue</th></tr>
        </thead>
        <tbody>
          {models.map((m) => {
            const p = point?.models.get(m);
            return (
              <tr key={m}>
                <td><a href={href('metrics', m)} aria-current={m === selected ? 'true' : undefined}>{m}</a></td>
                <td class="num">{fmtRate(p?.rps)}</td>
                <td class="num">{fmtLatency(p?.p50)}</td>
                <td class="num">{fmtLatency(p?.p99)}</td>
                <td class="num">{p ? p.queue : DASH}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
