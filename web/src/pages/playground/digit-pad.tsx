// Draw a digit, see an MNIST classifier's probabilities while drawing. The canvas is a fixed 280×280
// (ten screen pixels per MNIST pixel); each stroke is turned into what the model was trained on
// (mnist.ts) and sent as soon as the previous request has answered. With Explain on, each answer is
// followed by an explanation of the same input, drawn over the strokes (digit-explain.tsx).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import { useLatestOnly } from '../../lib/latest-only';
import { BarChart } from '../../components/bar-chart';
import { ErrorBox } from '../../components/status';
import { concreteShape, digitScores, type ModelVersion } from './kind';
import { argmax, MNIST_SIDE, softmax, toMnistPlaced } from './mnist';
import { DIGIT_STROKES } from './digit-samples';
import { explainDigit, HeatmapOverlay, type DrawnInput, type ImageExplanation } from './digit-explain';
import { ExplainControls, ExplainStatus, Swatch, useExplainer } from './explain';
import type { V2Tensor } from './tensor-json';

const SIZE = 280;
/** about two MNIST pixels wide once the digit is fitted into 20×20, as MNIST's strokes are */
const PEN = 20;
const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

interface InferResponse { readonly outputs: readonly V2Tensor[] }

export interface DigitPadProps {
  readonly version: ModelVersion;
}

export function DigitPad({ version }: DigitPadProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const preview = useRef<HTMLCanvasElement>(null);
  const pen = useRef<{ x: number; y: number } | null>(null);
  /** bumped by Clear, so an answer for the drawing before it is dropped */
  const epoch = useRef(0);
  const [probs, setProbs] = useState<number[] | null>(null);
  const [error, setError] = useState<string>();
  const [sample, setSample] = useState(0);
  const input = version.signature.inputs[0]!;
  const scores = digitScores(version.signature)!;
  const ctx = () => canvas.current!.getContext('2d', { willReadFrequently: true })!;
  const ex = useExplainer<DrawnInput, ImageExplanation>((drawn, s) => explainDigit(version, input, drawn, s));

  const clear = () => {
    const c = ctx();
    c.fillStyle = '#000';
    c.fillRect(0, 0, SIZE, SIZE);
    const p = preview.current!.getContext('2d')!;
    p.fillStyle = '#000';
    p.fillRect(0, 0, MNIST_SIDE, MNIST_SIDE);
    epoch.current++;
    ex.reset();
    setProbs(null);
    setError(undefined);
  };
  useEffect(clear, [version.model, version.version]);

  const [predict, busy] = useLatestOnly(async () => {
    const mine = epoch.current;
    const rgba = ctx().getImageData(0, 0, SIZE, SIZE).data;
    const ink = new Float32Array(SIZE * SIZE);
    for (let i = 0; i < ink.length; i++) ink[i] = rgba[i * 4]! / 255;
    const drawn = toMnistPlaced(ink, SIZE, SIZE);
    if (!drawn) return;
    const { x } = drawn;
    showPreview(preview.current!, x);
    try {
      const res = await api<InferResponse>(`/v2/models/${enc(version.model)}/versions/${version.version}/infer`, {
        body: { inputs: [{ name: input.name, datatype: 'FP32', shape: concreteShape(input.shape), data: Array.from(x) }], outputs: [{ name: scores.name }] },
      });
      const out = res.outputs.find((o) => o.name === scores.name)!.data as number[];
      if (mine !== epoch.current) return;
      setProbs(scores.probabilities ? out : softmax(out));
      setError(undefined);
      ex.request(drawn);
    } catch (err) {
      if (mine === epoch.current) setError((err as Error).message);
    }
  });

  const at = (e: PointerEvent) => {
    const r = canvas.current!.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * SIZE) / r.width, y: ((e.clientY - r.top) * SIZE) / r.height };
  };
  const line = (from: { x: number; y: number }, to: { x: number; y: number }) => {
    const c = ctx();
    c.strokeStyle = '#fff';
    c.lineWidth = PEN;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
  };
  const down = (e: PointerEvent) => {
    e.preventDefault();
    canvas.current!.setPointerCapture(e.pointerId);
    pen.current = at(e);
    line(pen.current, pen.current);
    predict();
  };
  const move = (e: PointerEvent) => {
    if (!pen.current) return;
    const p = at(e);
    line(pen.current, p);
    pen.current = p;
    predict();
  };
  const up = () => {
    if (!pen.current) return;
    pen.current = null;
    predict();
  };

  const drawSample = () => {
    clear();
    // drawn inside the middle of the canvas, taller than wide, as people write digits
    const px = (u: number, v: number) => ({ x: 70 + u * 140, y: 30 + v * 220 });
    for (const stroke of DIGIT_STROKES[sample]!) {
      for (let i = 1; i < stroke.length; i++) line(px(...stroke[i - 1]!), px(...stroke[i]!));
    }
    setSample((sample + 1) % 10);
    predict();
  };

  const best = probs ? argmax(probs) : -1;
  return (
    <div class="digit-pad" aria-busy={busy}>
      <div>
        <div class="digit-stage">
          <canvas ref={canvas} width={SIZE} height={SIZE} class="digit-canvas" aria-label="Drawing area: draw one digit with the mouse, a pen or a finger"
            onPointerDown={down} onPointerMove={move} onPointerUp={up} onPointerCancel={up} />
          <div class="digit-overlay">
            {ex.result && <HeatmapOverlay e={ex.result.value} place={ex.result.input.place} side={SIZE} />}
          </div>
        </div>
        <div class="digit-tools">
          <button type="button" class="secondary" onClick={clear}>Clear</button>
          <button type="button" class="secondary outline" onClick={drawSample}>Draw a sample “{sample}”</button>
          <figure class="digit-preview">
            <canvas ref={preview} width={MNIST_SIDE} height={MNIST_SIDE} aria-hidden="true" />
            <figcaption>what the model sees</figcaption>
          </figure>
        </div>
      </div>
      <div>
        <p class="prediction" aria-live="polite" data-predicted={best >= 0 ? best : undefined}>
          {best >= 0 ? <>Predicted <strong>{best}</strong> ({(probs![best]! * 100).toFixed(1)}%)</> : 'Draw a digit to see what the model thinks it is.'}
        </p>
        <ErrorBox error={error} />
        {/* a click on a bar explains that digit (the Explain digit list does the same from the keyboard) */}
        <div class="digit-bars" onClick={(e) => {
          const d = (e.target as HTMLElement).closest<HTMLElement>('.bar-row')?.dataset['label'];
          if (ex.on && d !== undefined) ex.set({ target: d === ex.settings.target ? '' : d });
        }}>
          <BarChart title="Probability of each digit" max={1} format={(v) => `${(v * 100).toFixed(1)}%`}
            bars={DIGITS.map((d, i) => ({ label: d, value: probs?.[i] ?? 0, active: i === best }))} />
        </div>
        <ExplainControls ex={ex} targets={DIGITS} targetName="digit" />
        <ExplainStatus ex={ex} idle="The explanation follows the next prediction." legend={(e) => {
          const t = e.target.label ?? String(e.target.index);
          return <>Why <strong>{t}</strong>{e.target.index === e.predicted.index ? ' (predicted)' : ` (predicted ${e.predicted.label ?? e.predicted.index})`}: <Swatch sign={1} kind="image" /> raised its score, <Swatch sign={-1} kind="image" /> lowered it</>;
        }} />
      </div>
    </div>
  );
}

/** The 28×28 input, grey on black, so the user sees the fitting and centring MNIST needs. */
function showPreview(c: HTMLCanvasElement, x: Float32Array): void {
  const img = new ImageData(MNIST_SIDE, MNIST_SIDE);
  for (let i = 0; i < x.length; i++) {
    const v = Math.round(x[i]! * 255);
    img.data.set([v, v, v, 255], i * 4);
  }
  c.getContext('2d')!.putImageData(img, 0, 0);
}
