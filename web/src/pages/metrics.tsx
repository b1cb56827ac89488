// Placeholder until this page is written.
export function MetricsPage({ params }: { params: readonly string[] }) {
  return <h1>Metrics {params.join('/')}</h1>;
}
