// Horizontal bars with their values written out: class probabilities, token scores, a histogram.
// Plain HTML and CSS widths, so rows keep their place while values change (no layout shift) and a
// screen reader or a test reads the numbers directly.
export interface Bar {
  readonly label: string;
  readonly value: number;
  /** highlights a row, e.g. the predicted class */
  readonly active?: boolean;
}

export function BarChart({ bars, max, format = (v) => v.toFixed(3), title }: { bars: readonly Bar[]; max?: number; format?: (v: number) => string; title: string }) {
  const top = max ?? Math.max(1e-12, ...bars.map((b) => Math.abs(b.value)));
  return (
    <figure class="bars" aria-label={title}>
      {bars.map((b) => (
        <div class={`bar-row${b.active ? ' active' : ''}`} key={b.label} data-label={b.label} data-value={b.value}>
          <span class="bar-label">{b.label}</span>
          <span class="bar-track"><span class="bar-fill" style={{ width: `${Math.min(100, (Math.abs(b.value) / top) * 100)}%` }} /></span>
          <span class="bar-value">{format(b.value)}</span>
        </div>
      ))}
    </figure>
  );
}
