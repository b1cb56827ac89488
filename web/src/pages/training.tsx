// Placeholder until this page is written.
export function TrainingPage({ params }: { params: readonly string[] }) {
  return <h1>Training {params.join('/')}</h1>;
}
