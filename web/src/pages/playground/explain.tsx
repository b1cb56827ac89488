// What the digit and text playgrounds share to show explanations (issue 8): the Explain switch with
// its method and target pickers, the request loop (one explain request in flight, the latest input
// and settings win, as for predictions: ../../lib/latest-only.ts), and the line that says how the
// explanation was made. The answers are the server's own (src/explain/explanation.ts).
//
//   const ex = useExplainer((x: Input, s) => api<R>(path, { body: bodyOf(x, s) }));
//   ex.request(x);              // after each prediction; runs only while Explain is on
//   <ExplainControls ex={ex} targets={['0', …]} targetName="digit" />
//   {ex.result && draw(ex.result.value)}  <ExplainStatus ex={ex} … />
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLatestOnly } from '../../lib/latest-only';
import { ErrorBox } from '../../components/status';

export type MethodChoice = 'auto' | 'integrated_gradients' | 'occlusion';

export interface ExplainSettings {
  readonly method: MethodChoice;
  /** '' for the predicted class, else a class index (digits) or label (text) */
  readonly target: string;
}

/** The fields both /v2/models/{m}/explain and /v1/classifications/explain answer with. */
export interface ExplanationBase {
  readonly method: 'integrated_gradients' | 'occlusion';
  readonly fallbackReason?: string;
  readonly target: { readonly index: number; readonly label?: string; readonly output: string; readonly space: string; readonly score: number; readonly baselineScore?: number };
  readonly predicted: { readonly index: number; readonly label?: string };
  readonly completeness?: { readonly sum: number; readonly outputDelta: number; readonly relativeError: number; readonly absoluteError?: number; readonly judged?: 'relative' | 'absolute' };
  readonly steps?: number;
  readonly occlusion?: { readonly patch: number; readonly stride: number; readonly patches: number };
}

/** The explain request's own settings, as the API takes them (`method` left out: automatic). */
export function explainParams(s: ExplainSettings, target: (t: string) => number | string): Record<string, unknown> {
  return {
    ...(s.method !== 'auto' ? { method: s.method } : {}),
    ...(s.target !== '' ? { target: target(s.target) } : {}),
  };
}

export interface Explainer<I, R> {
  readonly on: boolean;
  setOn(on: boolean): void;
  readonly settings: ExplainSettings;
  set(s: Partial<ExplainSettings>): void;
  /** the latest answer, with the input it explains */
  readonly result: { readonly input: I; readonly value: R } | undefined;
  readonly error: string | undefined;
  readonly busy: boolean;
  /** explain this input (when Explain is on), or the next one when a request is in flight */
  request(input: I): void;
  /** forget the input and the answer (the drawing was cleared) */
  reset(): void;
}

export function useExplainer<I, R>(explain: (input: I, s: ExplainSettings) => Promise<R>): Explainer<I, R> {
  const [on, setOn] = useState(false);
  const [settings, setSettings] = useState<ExplainSettings>({ method: 'auto', target: '' });
  const [result, setResult] = useState<{ input: I; value: R }>();
  const [error, setError] = useState<string>();
  const input = useRef<{ value: I } | undefined>(undefined);
  /** bumped when the input is dropped or the settings change: answers asked before are not shown */
  const epoch = useRef(0);
  const live = useRef({ on, settings });
  live.current = { on, settings };

  const [run, busy] = useLatestOnly(async () => {
    const mine = epoch.current;
    const x = input.current;
    const { on: enabled, settings: s } = live.current;
    if (!enabled || !x) return;
    try {
      const value = await explain(x.value, s);
      if (mine !== epoch.current) return;
      setResult({ input: x.value, value });
      setError(undefined);
    } catch (err) {
      if (mine !== epoch.current) return;
      setResult(undefined);
      setError((err as Error).message);
    }
  });

  useEffect(() => {
    epoch.current++;
    if (on) run();
    else {
      setResult(undefined);
      setError(undefined);
    }
  }, [on, settings.method, settings.target]);

  return {
    on, setOn, settings, result, error, busy,
    set: (s) => setSettings((old) => ({ ...old, ...s })),
    request: (x) => {
      input.current = { value: x };
      if (live.current.on) run();
    },
    reset: () => {
      input.current = undefined;
      epoch.current++;
      setResult(undefined);
      setError(undefined);
    },
  };
}

const METHOD_NAMES: Record<MethodChoice, string> = {
  auto: 'Automatic',
  integrated_gradients: 'Integrated gradients',
  occlusion: 'Occlusion',
};

/** The switch and, beside it, the method and the class to explain. */
export function ExplainControls<I, R>({ ex, targets, targetName }: { ex: Explainer<I, R>; targets: readonly string[]; targetName: string }) {
  return (
    <fieldset class="explain-controls">
      <label class="explain-switch">
        <input type="checkbox" role="switch" checked={ex.on} onChange={(e) => ex.setOn(e.currentTarget.checked)} />
        Explain
      </label>
      <label>
        Method
        <select value={ex.settings.method} disabled={!ex.on} onChange={(e) => ex.set({ method: e.currentTarget.value as MethodChoice })}>
          {(Object.keys(METHOD_NAMES) as MethodChoice[]).map((m) => <option key={m} value={m}>{METHOD_NAMES[m]}</option>)}
        </select>
      </label>
      <label>
        Explain {targetName}
        <select value={ex.settings.target} disabled={!ex.on} onChange={(e) => ex.set({ target: e.currentTarget.value })}>
          <option value="">the predicted one</option>
          {targets.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
      </label>
    </fieldset>
  );
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** How the explanation was made — or why there is none — in a box of fixed height. */
export function ExplainStatus<I, R extends ExplanationBase>({ ex, legend, idle }: { ex: Explainer<I, R>; legend: (e: R) => ComponentChildren; idle: string }) {
  const e = ex.result?.value;
  return (
    <div class="explain-status" aria-live="polite" aria-busy={ex.on && ex.busy}
      data-state={!ex.on ? 'off' : ex.error ? 'error' : e ? 'shown' : 'waiting'}
      data-relative-error={e?.completeness?.relativeError}>
      {ex.error ? <ErrorBox error={ex.error} />
        : !ex.on ? <small>Turn on Explain to see which parts of the input the answer rests on.</small>
        : !e ? <small>{idle}</small>
        : (
          <>
            <p class="explain-legend">{legend(e)}</p>
            <small class="explain-how" data-method={e.method}>
              {METHOD_NAMES[e.method]}
              {e.completeness && <> · Σ attributions {fmt(e.completeness.sum)} vs Δ{e.target.space} {fmt(e.completeness.outputDelta)} ({offBy(e.completeness)})</>}
              {e.steps !== undefined && <> · {e.steps} steps</>}
              {e.occlusion && <> · {e.occlusion.patch} px patches, stride {e.occlusion.stride} ({e.occlusion.patches} runs)</>}
              {e.fallbackReason && <span class="explain-fallback"> · not integrated gradients: {e.fallbackReason}</span>}
            </small>
          </>
        )}
    </div>
  );
}

/** A swatch for legends: the colour a positive or negative score is drawn in. */
export function Swatch({ sign, kind }: { sign: 1 | -1; kind: 'image' | 'text' }) {
  return <span class={`explain-swatch ${kind}-${sign > 0 ? 'pos' : 'neg'}`} aria-hidden="true" />;
}

/** How far Σ attributions is from the score's change: in percent, or — when the score barely moved
 *  and the server judged completeness absolutely — as an absolute difference (a percentage of almost
 *  nothing would read as a large error). */
function offBy(c: NonNullable<ExplanationBase['completeness']>): string {
  if (c.judged === 'absolute' && c.absoluteError !== undefined) return `off by ${fmt(c.absoluteError)}; the score barely moved`;
  return `${(c.relativeError * 100).toFixed(2)}% off`;
}
