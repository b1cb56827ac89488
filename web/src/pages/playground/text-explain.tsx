// Explaining a classified text: POST /v1/classifications/explain scores each token, with its
// character offsets into the string sent, and the string is shown again with each token's span
// tinted by its score — green where it pushed toward the explained label, red where it pushed away,
// opacity ∝ |score|. Special tokens ([CLS], [SEP], …) have no characters and are not shown.
import { api } from '../../lib/api';
import type { ExplainSettings, ExplanationBase } from './explain';
import { explainParams } from './explain';
import type { ModelVersion } from './kind';

export interface TokenScore {
  readonly token: string;
  readonly start: number | null;
  readonly end: number | null;
  readonly special: boolean;
  readonly score: number;
}

export interface TextExplanation extends ExplanationBase {
  readonly label: string;
  readonly text: string;
  readonly tokens: readonly TokenScore[];
}

export function explainText(version: ModelVersion, input: string, s: ExplainSettings): Promise<TextExplanation> {
  return api<TextExplanation>('/v1/classifications/explain', {
    body: { model: `${version.model}:${version.version}`, input, ...explainParams(s, (t) => t) },
  });
}

interface Piece {
  readonly text: string;
  readonly token?: { readonly start: number; readonly end: number; readonly score: number; readonly tokens: string[] };
}

/** The text cut into plain runs and token spans, in order. Tokens that share a span (pieces of one
 *  character) are shown as one, with their scores added up; an overlap is cut where the last ended. */
export function textPieces(text: string, tokens: readonly TokenScore[]): Piece[] {
  const spans = tokens
    .filter((t): t is TokenScore & { start: number; end: number } => !t.special && t.start !== null && t.end !== null && t.end > t.start)
    .sort((a, b) => a.start - b.start);
  const pieces: Piece[] = [];
  let at = 0;
  for (const t of spans) {
    const last = pieces.at(-1)?.token;
    if (last && last.start === t.start && last.end === t.end) {
      pieces[pieces.length - 1] = { text: pieces.at(-1)!.text, token: { ...last, score: last.score + t.score, tokens: [...last.tokens, t.token] } };
      continue;
    }
    const start = Math.max(at, t.start);
    if (t.end <= start) continue;
    if (start > at) pieces.push({ text: text.slice(at, start) });
    pieces.push({ text: text.slice(start, t.end), token: { start, end: t.end, score: t.score, tokens: [t.token] } });
    at = t.end;
  }
  if (at < text.length) pieces.push({ text: text.slice(at) });
  return pieces;
}

const MAX_OPACITY = 0.75;
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toPrecision(3)}`;

export function TokenHighlights({ e }: { e: TextExplanation }) {
  const pieces = textPieces(e.text, e.tokens);
  const peak = Math.max(1e-12, ...pieces.map((p) => Math.abs(p.token?.score ?? 0)));
  const target = e.target.label ?? String(e.target.index);
  return (
    <p class="token-text" data-method={e.method} data-target={target}>
      {pieces.map((p, i) => {
        if (!p.token) return <span key={i}>{p.text}</span>;
        const { score } = p.token;
        const a = (MAX_OPACITY * Math.abs(score)) / peak;
        const label = `“${p.text}”: ${signed(score)} toward ${target}`;
        return (
          <mark key={i} class="token-score" title={label} aria-label={label}
            data-start={p.token.start} data-end={p.token.end} data-score={score}
            style={{ background: score >= 0 ? `rgba(22, 163, 74, ${a.toFixed(3)})` : `rgba(220, 38, 38, ${a.toFixed(3)})` }}>
            {p.text}
          </mark>
        );
      })}
    </p>
  );
}
