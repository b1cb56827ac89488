// Placeholder until this page is written.
export function KeysPage({ params }: { params: readonly string[] }) {
  return <h1>Keys {params.join('/')}</h1>;
}
