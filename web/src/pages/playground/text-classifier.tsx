// Type text, see a text classifier's labels and scores as you type (POST /v1/classifications; one
// request in flight, the latest text wins). The labels come from the model's metadata, so the bars are
// laid out before the first answer and keep their places while the scores change. With Explain on,
// each answer is followed by per-token scores of the same text (text-explain.tsx).
import { useRef, useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { useLatestOnly } from '../../lib/latest-only';
import { BarChart } from '../../components/bar-chart';
import { ErrorBox } from '../../components/status';
import type { ModelVersion } from './kind';
import { ExplainControls, ExplainStatus, Swatch, useExplainer } from './explain';
import { explainText, TokenHighlights, type TextExplanation } from './text-explain';

interface Classification {
  readonly data: readonly { readonly label: string; readonly scores: Readonly<Record<string, number>> }[];
}

export interface TextClassifierProps {
  readonly version: ModelVersion;
}

export function TextClassifier({ version }: TextClassifierProps) {
  const [text, setText] = useState('');
  const [answer, setAnswer] = useState<{ text: string; label: string; scores: Readonly<Record<string, number>> }>();
  const [error, setError] = useState<string>();
  const classes = (version.metadata['classes'] as string[] | undefined) ?? Object.keys(answer?.scores ?? {});
  const typed = useRef('');
  const ex = useExplainer<string, TextExplanation>((input, s) => explainText(version, input, s));

  const [classify, busy] = useLatestOnly(async () => {
    const input = typed.current;
    if (input.trim() === '') {
      setAnswer(undefined);
      setError(undefined);
      ex.reset();
      return;
    }
    try {
      const res = await api<Classification>('/v1/classifications', { body: { model: `${version.model}:${version.version}`, input } });
      const first = res.data[0]!;
      setAnswer({ text: input, label: first.label, scores: first.scores });
      setError(undefined);
      ex.request(input);
    } catch (err) {
      setError((err as Error).message);
    }
  });

  const onInput = (value: string) => {
    typed.current = value;
    setText(value);
    classify();
  };

  return (
    <div class="grid-2">
      <form onSubmit={(e) => { e.preventDefault(); classify(); }}>
        <label>
          Text
          <textarea rows={6} value={text} onInput={(e) => onInput(e.currentTarget.value)} placeholder="Type or paste text; the scores follow as you type" />
        </label>
        <button type="submit" disabled={text.trim() === ''}>Classify</button>
      </form>
      <div class="text-answer" aria-busy={busy}>
        <p class="prediction" aria-live="polite" data-label={answer?.label}>
          {answer ? <>Label: <strong>{answer.label}</strong></> : 'Type some text to see its label.'}
        </p>
        <ErrorBox error={error} />
        <BarChart title="Score of each label" max={1} format={(v) => v.toFixed(3)}
          bars={classes.map((c) => ({ label: c, value: answer?.scores[c] ?? 0, active: c === answer?.label }))} />
        <ExplainControls ex={ex} targets={classes} targetName="label" />
        <ExplainStatus ex={ex} idle="The explanation follows the next label." legend={(e) => {
          const t = e.target.label ?? String(e.target.index);
          return <>Why <strong>{t}</strong>{t === e.label ? ' (the label)' : ` (labelled ${e.label})`}: <Swatch sign={1} kind="text" /> pushed toward it, <Swatch sign={-1} kind="text" /> away from it</>;
        }} />
        {ex.result && <TokenHighlights e={ex.result.value} />}
      </div>
    </div>
  );
}
