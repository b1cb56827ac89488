// Placeholder until this page is written.
export function PlaygroundPage({ params }: { params: readonly string[] }) {
  return <h1>Playground {params.join('/')}</h1>;
}
