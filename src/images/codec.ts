// Image files in and out, through sharp (libvips). This is the only file that imports sharp, so a
// build without it loses image datasets and generated PNGs and nothing else. Ferry's tensors hold
// images channels-first ([C, H, W]) as floats in [0, 1]; sharp reads and writes interleaved bytes.
import sharp from 'sharp';
import { invalid } from '../core/errors.js';

export interface ImageSize {
  readonly width: number;
  readonly height: number;
  /** 1: greyscale, 3: RGB, 4: RGBA */
  readonly channels: 1 | 3 | 4;
}

/** One image file as channels-first floats in [0, 1], stretched to width × height. */
export async function decodeImage(file: string, width: number, height: number, channels: 1 | 3): Promise<Float32Array> {
  // 'fill' stretches rather than crops or pads: every pixel of the source stays in the example.
  const img = sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha();
  const { data, info } = await (channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb'))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((e: unknown) => {
      throw invalid(`cannot decode image ${file} (${(e as Error).message}); send PNG, JPEG, WebP or GIF files, or remove it`);
    });
  if (info.channels !== channels || data.length !== width * height * channels) {
    throw invalid(`image ${file} decoded to ${info.channels} channels of ${info.width}×${info.height}, not ${channels} of ${width}×${height}`);
  }
  const out = new Float32Array(channels * height * width);
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) out[c * plane + p] = data[p * channels + c]! / 255;
  }
  return out;
}

/**
 * A PNG of one channels-first image in [0, 1] (values outside are clipped), optionally scaled to
 * `scaleTo` with nearest-neighbour sampling, which keeps pixels as hard-edged blocks.
 *
 *   const png = await encodePng(pixels, { width: 28, height: 28, channels: 1 }, { width: 256, height: 256 });
 */
export async function encodePng(chw: Float32Array, size: ImageSize, scaleTo?: { width: number; height: number }): Promise<Buffer> {
  const { width, height, channels } = size;
  const plane = width * height;
  if (chw.length !== plane * channels) throw new RangeError(`an image of ${channels}×${height}×${width} has ${plane * channels} values, not ${chw.length}`);
  const bytes = Buffer.alloc(plane * channels);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) {
      const v = chw[c * plane + p]!;
      // NaN becomes 0 (black): a broken model shows as an empty image, not a crash
      bytes[p * channels + c] = v > 0 ? Math.round(Math.min(1, v) * 255) : 0;
    }
  }
  let img = sharp(bytes, { raw: { width, height, channels } });
  if (scaleTo && (scaleTo.width !== width || scaleTo.height !== height)) img = img.resize(scaleTo.width, scaleTo.height, { kernel: 'nearest', fit: 'fill' });
  // sharp writes sRGB unless told: a one-channel image stays a greyscale PNG, a third of the bytes
  return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}
