// Image generation, below HTTP: which registered models draw images — a decoder from a latent vector
// to an image, as `ferry train mnist-vae` registers (`z` [N, latent] → `image` [N, C, H, W] in [0, 1],
// file metadata `ferry.task` = image-generation) — how their latents are drawn from a seed, and the
// PNG files the images become. The OpenAI route (src/server/openai/image-routes.ts) translates to and
// from these; the model runs wherever the caller says (the pool and batcher, for the server).
import { FerryError } from '../core/errors.js';
import { seededRandom } from '../core/random.js';
import type { NamedTensors } from '../core/tensor.js';
import { encodePng, type ImageSize } from '../images/codec.js';
import type { VersionRecord } from '../registry/records.js';

export const IMAGE_TASK = 'image-generation';

/** What a model that draws images takes and gives. */
export interface ImageGenerator {
  /** floats in one latent vector z */
  readonly latent: number;
  /** one generated image */
  readonly image: ImageSize;
}

export interface ImageRequest {
  /** images to draw */
  readonly n: number;
  /** the same seed draws the same latents, so the same images; the first k of n images are the
   *  images a request for k with that seed gets */
  readonly seed: number;
  /** scale each image to this size (nearest neighbour) instead of the model's own */
  readonly scaleTo?: { readonly width: number; readonly height: number };
}

/** Sizes any image can be scaled to besides its own: DALL·E 2's, so clients that only know those
 *  still get an answer (large blocks of the model's pixels, never a smoothed guess). */
export const SCALED_SIZES: readonly string[] = ['256x256', '512x512', '1024x1024'];

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const dims = (s: readonly number[]) => `[${s.map((d) => (d < 0 ? 'N' : String(d))).join(', ')}]`;

/** What a version is as an image generator, or a refusal that says what it is instead and where it
 *  is served. */
export function imageGenerator(rec: VersionRecord): ImageGenerator {
  if (rec.metadata['task'] !== IMAGE_TASK) {
    throw bad(`model "${rec.model}" is not an image generator: it is ${whatItIs(rec)}. /v1/images/generations serves models whose file says ferry.task = ${IMAGE_TASK}, such as the decoder \`ferry train mnist-vae\` registers`);
  }
  const z = rec.signature.inputs.length === 1 ? rec.signature.inputs[0] : undefined;
  const image = rec.signature.outputs.find((o) => o.name === 'image');
  const [latent = -1] = z?.shape.slice(1) ?? [];
  const [channels = -1, height = -1, width = -1] = image?.shape.slice(1) ?? [];
  if (!z || z.name !== 'z' || z.dtype !== 'FP32' || z.shape.length !== 2 || latent < 1
    || !image || image.dtype !== 'FP32' || image.shape.length !== 4 || height < 1 || width < 1 || !(channels === 1 || channels === 3 || channels === 4)) {
    const sig = `${rec.signature.inputs.map((i) => `${i.name} ${dims(i.shape)}`).join(', ')} → ${rec.signature.outputs.map((o) => `${o.name} ${dims(o.shape)}`).join(', ')}`;
    throw bad(`model "${rec.model}" is tagged ${IMAGE_TASK} but takes ${sig}; an image generator takes z [N, latent] (FP32) and gives image [N, C, H, W] (FP32, C = 1, 3 or 4)`);
  }
  return { latent, image: { width, height, channels } };
}

function whatItIs(rec: VersionRecord): string {
  if (rec.format === 'gguf') return 'a text generation model (GGUF), served by /v1/chat/completions and /v1/completions';
  switch (rec.metadata['task']) {
    case 'text-generation': return 'a text generation model, served by /v1/chat/completions and /v1/completions';
    case 'text-classification': return 'a text classifier, served by /v1/classifications';
    case 'feature-extraction':
    case 'word-embedding': return 'a text embedding model, served by /v1/embeddings';
  }
  const io = (specs: readonly { name: string; shape: readonly number[] }[]) => specs.map((s) => `${s.name} ${dims(s.shape)}`).join(', ');
  return `a tensor model (${io(rec.signature.inputs)} → ${io(rec.signature.outputs)}), served by V2 infer at /v2/models/${rec.model}/infer`;
}

/** The sizes a generator answers, as OpenAI writes them: its own first. */
export function allowedSizes(g: ImageGenerator): string[] {
  const own = `${g.image.width}x${g.image.height}`;
  return [own, ...SCALED_SIZES.filter((s) => s !== own)];
}

/** A requested size ("WxH"; "auto" or nothing: the model's own) as the scale to apply, if any. */
export function sizeFor(g: ImageGenerator, size: string | undefined): ImageRequest['scaleTo'] {
  if (size === undefined || size === 'auto') return undefined;
  const allowed = allowedSizes(g);
  if (!allowed.includes(size)) throw bad(`"size" ${JSON.stringify(size).slice(0, 40)} is not available: this model draws ${allowed[0]} images, which Ferry also scales up to ${allowed.slice(1).join(', ')}`);
  const [width, height] = size.split('x').map(Number) as [number, number];
  return width === g.image.width && height === g.image.height ? undefined : { width, height };
}

/** n latent vectors, each N(0, I), from the seed (Box–Muller over a seeded uniform generator). */
export function sampleLatents(n: number, latent: number, seed: number): Float32Array {
  const uniform = seededRandom(seed);
  const z = new Float32Array(n * latent);
  for (let i = 0; i < z.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    z[i] = r * Math.cos(angle);
    if (i + 1 < z.length) z[i + 1] = r * Math.sin(angle);
  }
  return z;
}

/**
 * Draws req.n images: latents from the seed, the decoder run by `run` (the caller's pool and batcher),
 * one PNG per image.
 *
 *   const pngs = await generateImages(imageGenerator(rec), { n: 4, seed: 7 }, (inputs) => runModel(inputs));
 */
export async function generateImages(g: ImageGenerator, req: ImageRequest, run: (inputs: NamedTensors) => Promise<NamedTensors>): Promise<Buffer[]> {
  const z = sampleLatents(req.n, g.latent, req.seed);
  const out = (await run({ z: { dtype: 'FP32', shape: [req.n, g.latent], data: z } }))['image'];
  const { width, height, channels } = g.image;
  const per = channels * height * width;
  if (!out || !(out.data instanceof Float32Array) || out.data.length !== req.n * per) {
    throw new FerryError('INTERNAL', `the model gave image ${out ? dims(out.shape) : 'nothing'} for ${req.n} latents; expected [${req.n}, ${channels}, ${height}, ${width}] floats`);
  }
  const pixels = out.data;
  return Promise.all(Array.from({ length: req.n }, (_, i) => encodePng(pixels.subarray(i * per, (i + 1) * per), g.image, req.scaleTo)));
}
