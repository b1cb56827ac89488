// POST /v1/images/generations in OpenAI's shape, so its clients' `images.generate` works unchanged,
// for models that draw images from a latent vector (src/tasks/image-generation.ts). Images come back
// as base64 PNGs (`b64_json`): Ferry keeps no image store to link to, so `response_format: "url"` is
// refused. The models are unconditional: `prompt` is required, as OpenAI requires it, but does not
// steer what is drawn. `seed` is Ferry's extension: the same seed and version give the same bytes.
// The decoder runs through the same registry, pool and batcher as V2 inference.
import { randomInt } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Cancellation } from '../../core/cancel.js';
import { FerryError } from '../../core/errors.js';
import type { BatchResult } from '../../scheduler/batcher.js';
import { allowedSizes, generateImages, imageGenerator, sizeFor } from '../../tasks/image-generation.js';
import type { ServerDeps } from '../app.js';
import { onHangUp } from '../hang-up.js';

/** images per request: a batch the decoder runs at once */
export const MAX_IMAGES = 16;
/** OpenAI's longest prompt (gpt-image-1); the prompt is not read, only bounded */
const MAX_PROMPT = 32_000;

interface ImageBody {
  model?: unknown;
  prompt?: unknown;
  n?: unknown;
  size?: unknown;
  response_format?: unknown;
  output_format?: unknown;
  seed?: unknown;
  stream?: unknown;
}

/** OpenAI fields that would change the picture; only their default, "auto", can be honoured here */
const FIXED = ['quality', 'style', 'background', 'moderation'] as const;
const NOT_SUPPORTED = ['output_compression', 'partial_images', 'mask', 'image'] as const;

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const given = (v: unknown): boolean => v !== undefined && v !== null;
const show = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 40);

interface ImageParams {
  readonly model: string;
  readonly n: number;
  readonly size?: string;
  readonly seed: number;
}

/** Checks the body; every refusal names the field and what to send instead. */
function imageParams(body: ImageBody & Record<string, unknown>): ImageParams {
  if (typeof body.model !== 'string' || body.model === '') throw bad('"model" must name an image model, e.g. "mnist-vae" or "mnist-vae:2"');
  if (typeof body.prompt !== 'string' || body.prompt === '') throw bad('"prompt" is required, a non-empty string (Ferry\'s image models are unconditional: it does not steer what is drawn)');
  if (body.prompt.length > MAX_PROMPT) throw bad(`"prompt" is ${body.prompt.length} characters; send at most ${MAX_PROMPT}`);
  const n = given(body.n) ? body.n : 1;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_IMAGES) throw bad(`"n" must be an integer from 1 to ${MAX_IMAGES}; got ${show(body.n)}`);
  if (given(body.size) && typeof body.size !== 'string') throw bad(`"size" must be a string such as "28x28"; got ${show(body.size)}`);
  const format = given(body.response_format) ? body.response_format : 'b64_json';
  if (format === 'url') throw bad('"response_format": "url" is not available: Ferry keeps no image store to link to; send "b64_json" (the default) and decode the base64 PNG');
  if (format !== 'b64_json') throw bad(`"response_format" must be "b64_json"; got ${show(body.response_format)}`);
  if (given(body.output_format) && body.output_format !== 'png') throw bad(`"output_format" must be "png" (the only format Ferry writes); got ${show(body.output_format)}`);
  if (given(body.stream) && body.stream !== false) throw bad('"stream" is not supported for images: each image is drawn in one step; leave it out');
  for (const f of FIXED) {
    if (given(body[f]) && body[f] !== 'auto') throw bad(`"${f}" is not adjustable for Ferry's image models; leave it out or send "auto"`);
  }
  for (const f of NOT_SUPPORTED) if (given(body[f])) throw bad(`"${f}" is not supported by Ferry's image models; leave it out`);
  let seed: number;
  if (given(body.seed)) {
    if (!Number.isSafeInteger(body.seed)) throw bad(`"seed" must be an integer; got ${show(body.seed)}`);
    seed = (((body.seed as number) % 2 ** 32) + 2 ** 32) % 2 ** 32;
  } else {
    seed = randomInt(2 ** 32);
  }
  return { model: body.model, n: n as number, seed, ...(given(body.size) ? { size: body.size as string } : {}) };
}

export async function imageRoutes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  const { registry, pool, monitor } = deps;

  app.post('/images/generations', { config: { scope: 'infer' } }, async (request, reply) => {
    const body = (request.body ?? {}) as ImageBody & Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw bad('the body must be a JSON object such as {"model": "mnist-vae", "prompt": "a digit", "n": 4}');
    const p = imageParams(body);
    const rec = await registry.resolveRef(p.model);
    const g = imageGenerator(rec);
    const scaleTo = sizeFor(g, p.size);
    const abort = new Cancellation();
    onHangUp(reply, () => abort.cancel());
    const started = performance.now();
    const ran: { result?: BatchResult } = {};
    let pngs: Buffer[];
    try {
      pngs = await generateImages(g, { n: p.n, seed: p.seed, ...(scaleTo ? { scaleTo } : {}) }, async (inputs) => {
        ran.result = await pool.infer(rec, inputs, { cancellation: abort });
        return ran.result.outputs;
      });
    } catch (err) {
      monitor.request(rec.model, rec.version, false, performance.now() - started, 0);
      throw err;
    }
    monitor.request(rec.model, rec.version, true, performance.now() - started, ran.result!.rows, ran.result!.timings);
    request.usage?.ranBatch(rec.model, rec.version, ran.result!);
    const size = scaleTo ? `${scaleTo.width}x${scaleTo.height}` : allowedSizes(g)[0]!;
    return {
      created: Math.floor(Date.now() / 1000),
      data: pngs.map((png) => ({ b64_json: png.toString('base64') })),
      output_format: 'png',
      size,
      // Ferry's extensions: the version that drew them and the seed that replays them
      model: `${rec.model}:${rec.version}`,
      seed: p.seed,
    };
  });
}
