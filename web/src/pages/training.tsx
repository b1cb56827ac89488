// Training (issue 7): #/training lists the jobs and starts new ones from a recipe or a pasted spec;
// #/training/<jobId> follows one job live and deploys what it registered.
import { can, useWho } from '../lib/who';
import { JobList } from './training/job-list';
import { JobView } from './training/job-view';
import { NewJob } from './training/new-job';

export function TrainingPage({ params }: { params: readonly string[] }) {
  const id = params[0];
  if (id !== undefined) return <JobView key={id} id={id} />;
  return <TrainingHome />;
}

function TrainingHome() {
  const who = useWho();
  return (
    <section class="training">
      <h1>Training</h1>
      <div class="grid-2">
        {can(who, 'train')
          ? <NewJob />
          : <p class="training-hint">This key cannot start training jobs: that needs a key with the <strong>train</strong> scope.</p>}
        <JobList />
      </div>
    </section>
  );
}
