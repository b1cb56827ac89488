// Learning-rate schedules: the rate for each step, computed in JS and fed to the step graph.
export type ScheduleSpec =
  | { readonly type: 'constant'; readonly warmupSteps?: number }
  /** multiply by gamma every `everyEpochs` epochs */
  | { readonly type: 'step'; readonly everyEpochs: number; readonly gamma: number; readonly warmupSteps?: number }
  /** multiply by gamma after every epoch */
  | { readonly type: 'exponential'; readonly gamma: number; readonly warmupSteps?: number }
  /** cosine decay from lr to minLr over the whole run */
  | { readonly type: 'cosine'; readonly minLr?: number; readonly warmupSteps?: number };

export interface ScheduleState {
  readonly step: number;
  readonly epoch: number;
  readonly totalSteps: number;
}

export function learningRate(base: number, spec: ScheduleSpec | undefined, s: ScheduleState): number {
  const warm = spec?.warmupSteps ?? 0;
  // linear warm-up from lr/warm to lr over the first steps
  const factor = warm > 0 && s.step < warm ? (s.step + 1) / warm : 1;
  switch (spec?.type ?? 'constant') {
    case 'constant':
      return base * factor;
    case 'step': {
      const st = spec as Extract<ScheduleSpec, { type: 'step' }>;
      return base * factor * st.gamma ** Math.floor(s.epoch / st.everyEpochs);
    }
    case 'exponential':
      return base * factor * (spec as Extract<ScheduleSpec, { type: 'exponential' }>).gamma ** s.epoch;
    case 'cosine': {
      const min = (spec as Extract<ScheduleSpec, { type: 'cosine' }>).minLr ?? 0;
      const span = Math.max(1, s.totalSteps - warm);
      const t = Math.min(1, Math.max(0, s.step - warm) / span);
      return factor * (min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t)));
    }
  }
}
