// Attributions drawn for people: one number per pixel (the sum over channels, aligned with the
// input's height and width) and, on request, a PNG of the input in grey with positive attributions
// in red and negative ones in blue, each pixel's opacity its share of the largest magnitude.
//
//   const heat = pixelHeatmap(attributions, geo);                   // Float32Array of height × width
//   const png = await overlayPng(input, geo, heat);                 // PNG bytes, at least 224 px wide or high
import { encodePng } from '../images/codec.js';
import type { ImageGeometry } from './occlusion.js';

/** the sum over channels at each pixel */
export function pixelHeatmap(attributions: Float32Array, geo: ImageGeometry): Float32Array {
  const plane = geo.height * geo.width;
  const heat = new Float32Array(plane);
  for (let c = 0; c < geo.channels; c++) for (let i = 0; i < plane; i++) heat[i]! += attributions[c * plane + i]!;
  return heat;
}

/** A small image is scaled up by a whole factor, pixels kept as blocks, so a 28×28 digit is legible. */
const MIN_SIDE = 224;
const MAX_OPACITY = 0.85;

export async function overlayPng(input: Float32Array, geo: ImageGeometry, heat: Float32Array): Promise<Buffer> {
  const { height, width } = geo;
  const plane = height * width;
  // the input as grey in [0, 1]: the channel mean, stretched to its own range (inputs are often
  // normalized, not pixel values)
  const grey = new Float32Array(plane);
  for (let c = 0; c < geo.channels; c++) for (let i = 0; i < plane; i++) grey[i]! += input[c * plane + i]! / geo.channels;
  let lo = Infinity, hi = -Infinity, peak = 0;
  for (let i = 0; i < plane; i++) {
    lo = Math.min(lo, grey[i]!);
    hi = Math.max(hi, grey[i]!);
    peak = Math.max(peak, Math.abs(heat[i]!));
  }
  const span = hi > lo ? hi - lo : 1;
  const rgb = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const g = (grey[i]! - lo) / span;
    const a = peak > 0 ? (MAX_OPACITY * Math.abs(heat[i]!)) / peak : 0;
    const [r, gr, b] = heat[i]! >= 0 ? [1, 0, 0] : [0, 0.3, 1];
    rgb[i] = g * (1 - a) + r * a;
    rgb[plane + i] = g * (1 - a) + gr * a;
    rgb[2 * plane + i] = g * (1 - a) + b * a;
  }
  const scale = Math.max(1, Math.ceil(MIN_SIDE / Math.max(height, width)));
  return encodePng(rgb, { width, height, channels: 3 }, { width: width * scale, height: height * scale });
}
