// A drawing as MNIST saw its digits. LeCun et al. fitted each digit's bounding box into 20×20 pixels
// (keeping its aspect ratio, anti-aliased) and then moved it so that its centre of mass sat at the
// centre of a 28×28 field. A model trained on MNIST has only ever seen digits placed that way: fed a
// raw downscale of a digit drawn in a corner, the CNN guesses badly. Pure functions on plain arrays,
// so they are tested without a browser.

export const MNIST_SIDE = 28;
const BOX = 20;
/** ink below this counts as paper when finding the digit's bounding box */
const INK = 0.05;

/**
 * `ink` holds w×h values, 0 for paper and 1 for ink, row by row. Returns 28×28 values in [0, 1]
 * (white digit on black, as MNIST), or null when nothing is drawn.
 *
 *   const x = toMnist(ink, 280, 280); // Float32Array(784), ready for [1, 1, 28, 28]
 */
export function toMnist(ink: ArrayLike<number>, w: number, h: number): Float32Array | null {
  return toMnistPlaced(ink, w, h)?.x ?? null;
}

/**
 * Where the 28×28 field lies over the drawing: its top-left corner and size in drawing pixels.
 * Every MNIST pixel (c, r) covers the drawing from (left + c·width/28, top + r·height/28), so an
 * attribution map of the 28×28 input can be laid over the strokes that made it.
 */
export interface MnistPlacement {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** toMnist, and where its field lies over the drawing. */
export function toMnistPlaced(ink: ArrayLike<number>, w: number, h: number): { x: Float32Array; place: MnistPlacement } | null {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x]! > INK) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const scale = BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale)), th = Math.max(1, Math.round(bh * scale));
  const box = resample(ink, w, x0, y0, bw, bh, tw, th);

  // centre of mass of the fitted box, then the shift that puts it at the field's centre (14, 14),
  // kept within the field so no ink is cut off
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = box[y * tw + x]!;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const ox = clamp(Math.round(MNIST_SIDE / 2 - mx / mass), 0, MNIST_SIDE - tw);
  const oy = clamp(Math.round(MNIST_SIDE / 2 - my / mass), 0, MNIST_SIDE - th);
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) out[(y + oy) * MNIST_SIDE + x + ox] = box[y * tw + x]!;
  }
  // target pixel tx of the box reads the drawing from x0 + tx·bw/tw (resample), and sits at ox + tx
  const sx = bw / tw, sy = bh / th;
  return { x: out, place: { left: x0 - ox * sx, top: y0 - oy * sy, width: MNIST_SIDE * sx, height: MNIST_SIDE * sy } };
}

/** The mean of the source pixels under each target pixel (a box filter: shrinking a pen stroke
 *  tenfold keeps its grey edges instead of aliasing), clamped to [0, 1]. */
function resample(src: ArrayLike<number>, w: number, x0: number, y0: number, bw: number, bh: number, tw: number, th: number): Float32Array {
  const out = new Float32Array(tw * th);
  for (let ty = 0; ty < th; ty++) {
    const sy0 = y0 + Math.floor((ty * bh) / th);
    const sy1 = Math.max(sy0 + 1, y0 + Math.floor(((ty + 1) * bh) / th));
    for (let tx = 0; tx < tw; tx++) {
      const sx0 = x0 + Math.floor((tx * bw) / tw);
      const sx1 = Math.max(sx0 + 1, x0 + Math.floor(((tx + 1) * bw) / tw));
      let sum = 0;
      for (let y = sy0; y < sy1; y++) for (let x = sx0; x < sx1; x++) sum += src[y * w + x]!;
      out[ty * tw + tx] = Math.min(1, sum / ((sy1 - sy0) * (sx1 - sx0)));
    }
  }
  return out;
}

/** Probabilities from logits, stable for large values. */
export function softmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  const top = Math.max(...xs);
  const exps = xs.map((v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}
