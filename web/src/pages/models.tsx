// Placeholder until this page is written.
export function ModelsPage({ params }: { params: readonly string[] }) {
  return <h1>Models {params.join('/')}</h1>;
}
