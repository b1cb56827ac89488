// The image-generation task without a server: which versions are image generators (and what the
// others are told), the sizes a generator answers, latents drawn from a seed, and PNGs written from a
// model's output — pixel values, clipping, greyscale and colour, scaling.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { FerryError } from '../../src/core/errors.js';
import type { NamedTensors } from '../../src/core/tensor.js';
import type { VersionRecord } from '../../src/registry/records.js';
import type { TensorSpec } from '../../src/runtimes/runtime.js';
import { allowedSizes, generateImages, imageGenerator, sampleLatents, sizeFor } from '../../src/tasks/image-generation.js';

function version(inputs: TensorSpec[], outputs: TensorSpec[], metadata: Record<string, unknown> = { task: 'image-generation' }, format: 'onnx' | 'gguf' = 'onnx'): VersionRecord {
  return {
    model: 'm', version: 1, format, artifactKey: 'k', sizeBytes: 1, sha256: '', createdAt: '', config: {},
    signature: { inputs, outputs }, metadata,
  };
}
const Z: TensorSpec = { name: 'z', dtype: 'FP32', shape: [-1, 8] };
const IMAGE: TensorSpec = { name: 'image', dtype: 'FP32', shape: [-1, 1, 28, 28] };

const refuses = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT' && re.test(e.message));

describe('imageGenerator', () => {
  it('reads the latent size and image shape from a tagged z → image signature', () => {
    assert.deepEqual(imageGenerator(version([Z], [IMAGE])), { latent: 8, image: { width: 28, height: 28, channels: 1 } });
    assert.deepEqual(imageGenerator(version([Z], [{ ...IMAGE, shape: [-1, 3, 32, 48] }])).image, { width: 48, height: 32, channels: 3 });
  });

  it('tells a model of another kind what it is and where it is served', () => {
    refuses(() => imageGenerator(version([Z], [IMAGE], {})), /model "m" is not an image generator: it is a tensor model \(z \[N, 8\] → image \[N, 1, 28, 28\]\), served by V2 infer at \/v2\/models\/m\/infer/);
    refuses(() => imageGenerator(version([], [], { task: 'text-classification' })), /it is a text classifier, served by \/v1\/classifications/);
    refuses(() => imageGenerator(version([], [], {}, 'gguf')), /it is a text generation model \(GGUF\)/);
  });

  it('refuses a tagged model whose signature is not z [N, latent] → image [N, C, H, W]', () => {
    refuses(() => imageGenerator(version([{ ...Z, name: 'x' }], [IMAGE])), /is tagged image-generation but takes x \[N, 8\] → image/);
    refuses(() => imageGenerator(version([Z], [{ ...IMAGE, shape: [-1, 784] }])), /gives image \[N, C, H, W\]/);
    refuses(() => imageGenerator(version([Z], [{ ...IMAGE, shape: [-1, 2, 28, 28] }])), /C = 1, 3 or 4/);
  });
});

describe('sizes', () => {
  const g = { latent: 8, image: { width: 28, height: 28, channels: 1 as const } };
  it('are the model\'s own first, then the scaled ones; "auto" and nothing mean its own', () => {
    assert.deepEqual(allowedSizes(g), ['28x28', '256x256', '512x512', '1024x1024']);
    assert.equal(sizeFor(g, undefined), undefined);
    assert.equal(sizeFor(g, 'auto'), undefined);
    assert.equal(sizeFor(g, '28x28'), undefined);
    assert.deepEqual(sizeFor(g, '512x512'), { width: 512, height: 512 });
    refuses(() => sizeFor(g, '1792x1024'), /"size" "1792x1024" is not available: this model draws 28x28 images/);
  });
});

describe('sampleLatents', () => {
  it('is a function of the seed, and a shorter draw is the start of a longer one', () => {
    assert.deepEqual(sampleLatents(3, 5, 9), sampleLatents(3, 5, 9));
    assert.notDeepEqual(sampleLatents(3, 5, 9), sampleLatents(3, 5, 10));
    assert.deepEqual(sampleLatents(1, 5, 9), sampleLatents(3, 5, 9).subarray(0, 5));
    assert.equal(sampleLatents(1, 3, 1).length, 3, 'an odd count');
  });

  it('draws standard normal values', () => {
    const z = sampleLatents(4000, 5, 1);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    const within1 = z.filter((v) => Math.abs(v) < 1).length / z.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.04, `variance ${variance}`);
    assert.ok(Math.abs(within1 - 0.6827) < 0.015, `${within1} within one standard deviation`);
  });
});

describe('generateImages', () => {
  const fake = (image: Float32Array, shape: number[]) => async (inputs: NamedTensors): Promise<NamedTensors> => {
    assert.deepEqual(Object.keys(inputs), ['z']);
    return { image: { dtype: 'FP32', shape, data: image } };
  };

  it('writes one PNG per image: values ×255, clipped to [0, 1], NaN as black; colour stays colour', async () => {
    const grey = Float32Array.of(0, 0.5, 1, 2, -1, NaN, 0.25, 0.75);
    const pngs = await generateImages({ latent: 2, image: { width: 2, height: 2, channels: 1 } }, { n: 2, seed: 1 }, fake(grey, [2, 1, 2, 2]));
    assert.equal(pngs.length, 2);
    const px = await Promise.all(pngs.map((p) => sharp(p).toColourspace('b-w').raw().toBuffer()));
    assert.deepEqual(px.map((b) => [...b]), [[0, 128, 255, 255], [0, 0, 64, 191]]);
    assert.equal((await sharp(pngs[0]!).metadata()).channels, 1, 'a greyscale PNG');

    // channels-first red, green, blue planes of one 1×2 image
    const rgb = Float32Array.of(1, 0, 0, 1, 0, 0);
    const [png] = await generateImages({ latent: 2, image: { width: 2, height: 1, channels: 3 } }, { n: 1, seed: 1 }, fake(rgb, [1, 3, 1, 2]));
    assert.deepEqual([...(await sharp(png!).raw().toBuffer())], [255, 0, 0, 0, 255, 0]);
  });

  it('scales by nearest neighbour when asked', async () => {
    const [png] = await generateImages({ latent: 2, image: { width: 2, height: 1, channels: 1 } }, { n: 1, seed: 1, scaleTo: { width: 4, height: 2 } }, fake(Float32Array.of(0, 1), [1, 1, 1, 2]));
    assert.deepEqual([...(await sharp(png!).toColourspace('b-w').raw().toBuffer())], [0, 0, 255, 255, 0, 0, 255, 255]);
  });

  it('fails as an internal error when the model gives something else than it declared', async () => {
    await assert.rejects(generateImages({ latent: 2, image: { width: 2, height: 2, channels: 1 } }, { n: 2, seed: 1 }, fake(new Float32Array(4), [1, 1, 2, 2])),
      (e: unknown) => e instanceof FerryError && e.code === 'INTERNAL' && /expected \[2, 1, 2, 2\]/.test(e.message));
  });
});
