// Explaining a drawn digit: the same input tensor the prediction sent goes to
// POST /v2/models/{m}/versions/{v}/explain, and the 28×28 heatmap that comes back is drawn over the
// strokes — a 28×28 canvas stretched, pixels kept square-edged, over exactly the part of the drawing
// the model's field covers (toMnist fits and centres the digit, so that is rarely the whole canvas).
// Red: the pixel raised the explained digit's score; blue: it lowered it; opacity ∝ |attribution|.
import { useEffect, useRef } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import type { ExplainSettings, ExplanationBase } from './explain';
import { explainParams } from './explain';
import { concreteShape, type ModelVersion, type TensorSpec } from './kind';
import type { MnistPlacement } from './mnist';

export interface ImageExplanation extends ExplanationBase {
  readonly heatmap: { readonly height: number; readonly width: number; readonly data: readonly number[] };
}

/** What is explained: the model's input and where it lies over the drawing. */
export interface DrawnInput {
  readonly x: Float32Array;
  readonly place: MnistPlacement;
}

export function explainDigit(version: ModelVersion, input: TensorSpec, drawn: DrawnInput, s: ExplainSettings): Promise<ImageExplanation> {
  return api<ImageExplanation>(`/v2/models/${enc(version.model)}/versions/${version.version}/explain`, {
    body: {
      inputs: [{ name: input.name, datatype: 'FP32', shape: concreteShape(input.shape), data: Array.from(drawn.x) }],
      parameters: explainParams(s, Number),
    },
  });
}

/** as the server's PNG overlay (src/explain/heatmap.ts): the largest magnitude is drawn at this opacity */
const MAX_OPACITY = 0.8;

/** The heatmap over the drawing; `side` is the drawing canvas's size in its own pixels. */
export function HeatmapOverlay({ e, place, side }: { e: ImageExplanation; place: MnistPlacement; side: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const { height, width, data } = e.heatmap;
  let peak = 0, sum = 0;
  for (const v of data) {
    peak = Math.max(peak, Math.abs(v));
    sum += v;
  }
  useEffect(() => {
    const img = new ImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      const v = data[i] ?? 0;
      const a = peak > 0 ? Math.round((255 * MAX_OPACITY * Math.abs(v)) / peak) : 0;
      img.data.set(v >= 0 ? [255, 0, 0, a] : [0, 80, 255, a], i * 4);
    }
    canvas.current!.getContext('2d')!.putImageData(img, 0, 0);
  }, [e]);
  const pct = (v: number) => `${(100 * v) / side}%`;
  const target = e.target.label ?? String(e.target.index);
  return (
    <canvas ref={canvas} width={width} height={height} class="digit-heatmap" role="img"
      aria-label={`Attributions for ${target}: red pixels raised its score, blue ones lowered it`}
      data-method={e.method} data-target={e.target.index} data-sum={sum} data-cells={width * height}
      style={{ left: pct(place.left), top: pct(place.top), width: pct(place.width), height: pct(place.height) }} />
  );
}
