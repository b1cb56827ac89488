// Numbers as the metrics page shows them: a fixed number of decimals for the size of the value, so
// digits do not jump about between polls (the cards use tabular figures too).
export const DASH = '—';

export function fmtRate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** seconds → "1.25 ms", "320 ms", "2.40 s" */
export function fmtLatency(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const ms = seconds * 1000;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
  return `${seconds.toFixed(2)} s`;
}
