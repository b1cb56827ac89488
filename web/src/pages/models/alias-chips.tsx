// Aliases as short "name → vN" tags, sorted so a model's row reads the same on every load.
export function AliasChips({ aliases }: { aliases: Readonly<Record<string, number>> }) {
  const entries = Object.entries(aliases).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="chips">
      {entries.map(([alias, v]) => <li key={alias} data-alias={alias}>{alias} → v{v}</li>)}
    </ul>
  );
}
