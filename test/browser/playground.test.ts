// The playground in Chromium against a real Ferry with its built-in MNIST models and three small
// models made here: a text classifier, a random-weight GGUF chat model, an image decoder and a digit
// classifier integrated gradients cannot differentiate. A digit drawn with the mouse is recognized,
// text gets labels and scores, chat answers stream and stop, the tensor editor sends its sample,
// explanations are drawn over the strokes and the text, and every page fits a phone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { encodeModel } from '../../src/graph/onnx.js';
import { llamaGguf } from '../../src/llm/gguf/llama-export.js';
import { packHfFiles } from '../../src/text/hf-import.js';
import { memoryFiles } from '../../src/text/model-files.js';
import { trainWordPiece } from '../../src/text/tokenizer-trainer.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { toMnist } from '../../web/src/pages/playground/mnist.js';
import { seededRandom } from '../fixtures/models.js';
import { TINY_CONFIG, tinyParams, tinyVocab } from '../fixtures/tiny-llama.js';
import { assertNoErrors, assertNoHorizontalScroll, launchBrowser, openDashboard, PHONE, screenshot, type DashboardPage } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

const LABELS = ['negative', 'neutral', 'positive'];

/** A text classifier in the Hugging Face layout, packed as `ferry models push DIR` packs it: the
 *  logits of a text are the sum of its tokens' rows in a random table. */
function textClassifier(): Uint8Array {
  const { tokenizerJson, tokenizerConfig } = trainWordPiece(['the food was great', 'the service was slow and bad', 'an average day at the office'], { vocabSize: 60, modelMaxLength: 32 });
  const tokenizer = TextTokenizer.fromFiles(tokenizerJson, tokenizerConfig);
  const random = seededRandom(5);
  const table = Float32Array.from({ length: tokenizer.vocabSize * 3 }, () => random() * 2 - 1);
  table.fill(0, tokenizer.padId * 3, tokenizer.padId * 3 + 3);
  const onnx = new GraphBuilder()
    .input('input_ids', 'INT64', ['batch', 'sequence'])
    .initializer('table', 'FP32', [tokenizer.vocabSize, 3], table)
    .initializer('axes', 'INT64', [1], BigInt64Array.of(1n))
    .node('Gather', ['table', 'input_ids'], ['rows'], { axis: attr.int(0) })
    .node('ReduceSum', ['rows', 'axes'], ['logits'], { keepdims: attr.int(0) })
    .output('logits', 'FP32', ['batch', 3])
    .build();
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  return packHfFiles(memoryFiles(new Map([
    ['config.json', json({ model_type: 'bert', id2label: Object.fromEntries(LABELS.map((l, i) => [i, l])) })],
    ['tokenizer.json', json(tokenizerJson)],
    ['tokenizer_config.json', json(tokenizerConfig)],
    ['onnx/model.onnx', onnx],
  ])), { task: 'text-classification' });
}

/** An image decoder as `ferry train mnist-vae` registers one, with random weights: z [N, 4] → 8×8. */
function imageDecoder(): Uint8Array {
  const random = seededRandom(9);
  const model = new GraphBuilder()
    .input('z', 'FP32', ['batch', 4])
    .initializer('w', 'FP32', [4, 64], Float32Array.from({ length: 256 }, () => random() * 4 - 2))
    .initializer('shape', 'INT64', [4], BigInt64Array.of(-1n, 1n, 8n, 8n))
    .node('MatMul', ['z', 'w'], ['h'])
    .node('Sigmoid', ['h'], ['p'])
    .node('Reshape', ['p', 'shape'], ['image'])
    .output('image', 'FP32', ['batch', 1, 8, 8])
    .model();
  model.metadataProps = [{ key: 'ferry.task', value: 'image-generation' }];
  return encodeModel(model);
}

/** A digit classifier with random weights and a Clip, which has no gradient rule: explained by
 *  occlusion unless integrated gradients are insisted on. */
function clippedDigits(): Uint8Array {
  const random = seededRandom(13);
  return new GraphBuilder()
    .input('pixels', 'FP32', ['batch', 784])
    .initializer('w', 'FP32', [784, 10], Float32Array.from({ length: 7840 }, () => random() * 2 - 1))
    .initializer('lo', 'FP32', [], Float32Array.of(-20))
    .initializer('hi', 'FP32', [], Float32Array.of(20))
    .node('MatMul', ['pixels', 'w'], ['h'])
    .node('Clip', ['h', 'lo', 'hi'], ['logits'])
    .output('logits', 'FP32', ['batch', 10])
    .build();
}

/** The test GGUF with a long context: greedy decoding of its random weights runs for seconds
 *  without an end-of-text token, long enough to press Stop while it streams. */
const LONG = { ...TINY_CONFIG, context: 8192 };

/** Draws one pen stroke through `points` (canvas pixels) with the mouse. */
async function stroke(page: Page, canvas: Locator, points: readonly (readonly [number, number])[]): Promise<void> {
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + points[0]![0], box.y + points[0]![1]);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 3 });
  await page.mouse.up();
}

/** The digit the page highlights once the answer for the whole drawing is in. */
async function predicted(page: Page): Promise<string> {
  await page.locator('.digit-pad[aria-busy="false"]').waitFor();
  const active = page.locator('.bar-row.active');
  await active.waitFor();
  return (await active.getAttribute('data-label'))!;
}

describe('playground', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: string;
  const authed = (init: RequestInit = {}): RequestInit => ({ ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${admin}` } });
  const push = async (name: string, bytes: Uint8Array) => {
    const res = await fetch(`${s.url}/api/models/${name}/versions`, authed({ method: 'POST', body: Buffer.from(bytes), headers: { 'content-type': 'application/octet-stream' } }));
    assert.equal(res.status, 201, await res.text());
  };
  const open = (hash: string, viewport?: { width: number; height: number }) => openDashboard(browser, s.url, { key: admin, hash, ...(viewport ? { viewport } : {}) });

  before(async () => {
    s = await startServer({ builtinModels: true, generation: { parallel: 1, maxQueueSize: 4, threads: 1 } }, { auth: true });
    admin = s.ferry.firstAdminKey!;
    [browser] = await Promise.all([
      launchBrowser(),
      push('sentiment', textClassifier()),
      push('tiny-chat', llamaGguf(tinyParams(1, LONG), LONG, tinyVocab(), { name: 'tiny-llama' })),
      push('decoder', imageDecoder()),
      push('clipped', clippedDigits()),
    ]);
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('fits a drawing into 20×20 and centres it by mass, as MNIST did', () => {
    // a 40×100 bar in the top-left corner of a 280×280 drawing
    const ink = new Float32Array(280 * 280);
    for (let y = 10; y < 110; y++) for (let x = 5; x < 45; x++) ink[y * 280 + x] = 1;
    const x = toMnist(ink, 280, 280)!;
    const rows = (c: number) => Array.from({ length: 28 }, (_, y) => x[y * 28 + c]!);
    const cols = (r: number) => Array.from({ length: 28 }, (_, c) => x[r * 28 + c]!);
    // 100 px tall becomes 20, 40 px wide becomes 8; centred: rows 4-23, columns 10-17
    assert.deepEqual(rows(14).map((v, y) => (v > 0 ? y : -1)).filter((y) => y >= 0), Array.from({ length: 20 }, (_, i) => i + 4));
    assert.deepEqual(cols(14).map((v, c) => (v > 0 ? c : -1)).filter((c) => c >= 0), Array.from({ length: 8 }, (_, i) => i + 10));
    assert.ok(x.every((v) => v >= 0 && v <= 1));
    assert.equal(toMnist(new Float32Array(280 * 280), 280, 280), null, 'nothing drawn, nothing to send');
  });

  it('picks a playground per model from its metadata', async () => {
    const d = await open('#/playground');
    const { page } = d;
    const kinds = { 'mnist-cnn': 'Draw a digit', sentiment: 'Classify text', 'tiny-chat': 'Chat', decoder: 'Generate images', 'silero-vad': 'Tensors (JSON)' };
    for (const [model, kind] of Object.entries(kinds)) {
      await page.locator('.model-picks li', { hasText: model }).filter({ hasText: kind }).waitFor();
    }
    await screenshot(page, 'playground-pick');
    await page.getByRole('link', { name: 'mnist-cnn', exact: true }).click();
    await page.waitForURL(/#\/playground\/mnist-cnn$/);
    await page.getByRole('img', { name: /Drawing area/ }).or(page.getByLabel(/Drawing area/)).waitFor();
    assertNoErrors(d);
    await d.close();
  });

  it('tells a key without the infer scope why it cannot try models', async () => {
    const res = await fetch(`${s.url}/api/keys`, authed({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'acme', scopes: ['read'] }) }));
    assert.equal(res.status, 201, await res.clone().text());
    const { key } = (await res.json()) as { key: string };
    const d = await openDashboard(browser, s.url, { key, hash: '#/playground/mnist-cnn' });
    await d.page.getByText('This key may not run models').waitFor();
    assert.equal(await d.page.getByLabel(/Drawing area/).count(), 0);
    assertNoErrors(d);
    await d.close();
  });

  it('recognizes digits drawn with the mouse on mnist-cnn, while drawing', async () => {
    const d = await open('#/playground/mnist-cnn');
    const { page } = d;
    const canvas = page.getByLabel(/Drawing area/);
    await stroke(page, canvas, [[140, 40], [142, 140], [140, 240]]);
    assert.equal(await predicted(page), '1');
    await page.getByText(/Predicted 1 \(\d+\.\d%\)/).waitFor();
    await screenshot(page, 'playground-digit-1');

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('Draw a digit to see').waitFor();
    assert.equal(await page.locator('.bar-row.active').count(), 0);
    const loop = Array.from({ length: 41 }, (_, i) => [140 + 60 * Math.sin((i / 40) * 2 * Math.PI), 140 - 85 * Math.cos((i / 40) * 2 * Math.PI)] as const);
    await stroke(page, canvas, loop);
    assert.equal(await predicted(page), '0');
    // ten bars whatever the answer, probabilities that add up to one
    const values = await page.locator('.bar-row').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset['value'])));
    assert.equal(values.length, 10);
    assert.ok(Math.abs(values.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    await screenshot(page, 'playground-digit-0');

    // without a mouse: the sample button draws a digit from the keyboard
    await page.getByRole('button', { name: 'Clear' }).click();
    const samples: string[] = [];
    for (let i = 0; i < 10; i++) {
      await page.getByRole('button', { name: `Draw a sample “${i}”` }).focus();
      await page.keyboard.press('Enter');
      samples.push(await predicted(page));
    }
    assert.deepEqual(samples, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'each sample digit is read as itself');
    assertNoErrors(d);
    await d.close();
  });

  it('reads the input shape: mnist-mlp gets [1, 784]', async () => {
    const d = await open('#/playground/mnist-mlp');
    const { page } = d;
    const sent = page.waitForRequest((r) => r.url().endsWith('/v2/models/mnist-mlp/versions/1/infer'));
    await page.getByRole('button', { name: 'Draw a sample “0”' }).click();
    const body = JSON.parse((await sent).postData()!) as { inputs: { shape: number[]; data: number[] }[] };
    assert.deepEqual(body.inputs[0]!.shape, [1, 784]);
    assert.equal(body.inputs[0]!.data.length, 784);
    assert.equal(await predicted(page), '0');
    assertNoErrors(d);
    await d.close();
  });

  it('classifies text as it is typed, with every label and its score', async () => {
    const d = await open('#/playground/sentiment');
    const { page } = d;
    // the labels are laid out before the first answer
    assert.deepEqual(await page.locator('.bar-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset['label'])), LABELS);
    const text = 'the service was slow';
    await page.getByLabel('Text', { exact: true }).pressSequentially(text);
    await page.locator('.text-answer[aria-busy="false"] .prediction[data-label]').waitFor();
    const res = await fetch(`${s.url}/v1/classifications`, authed({ method: 'POST', body: JSON.stringify({ model: 'sentiment', input: text }), headers: { 'content-type': 'application/json' } }));
    const want = ((await res.json()) as { data: { label: string; scores: Record<string, number> }[] }).data[0]!;
    assert.equal(await page.locator('.prediction').getAttribute('data-label'), want.label, 'the label of the whole text');
    assert.equal(await page.locator('.bar-row.active').getAttribute('data-label'), want.label);
    const shown = await page.locator('.bar-row').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset['value'])));
    shown.forEach((v, i) => assert.ok(Math.abs(v - want.scores[LABELS[i]!]!) < 1e-6, `${LABELS[i]}: ${v} vs ${want.scores[LABELS[i]!]}`));
    await screenshot(page, 'playground-text');
    assertNoErrors(d);
    await d.close();
  });

  it('chats with a GGUF model: the answer streams in, and Stop ends generation on the server', async () => {
    const d = await open('#/playground/tiny-chat');
    const { page } = d;
    // greedy decoding, set from the keyboard
    await page.getByRole('slider', { name: 'Temperature' }).focus();
    await page.keyboard.press('Home');
    await page.locator('[data-temperature="0"]').waitFor();
    await page.getByLabel('Max tokens').fill('8');
    await page.getByLabel('Message').fill('Hi');
    await page.keyboard.press('Enter');
    await page.locator('.chat-finish[data-finish="length"]').waitFor();
    const answer = page.locator('.chat-msg.assistant .chat-text');
    const res = await fetch(`${s.url}/v1/chat/completions`, authed({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, temperature: 0 }) }));
    const whole = ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    assert.equal(await answer.first().textContent(), whole, 'the streamed pieces add up to the greedy answer');

    // a long answer: it grows chunk by chunk until Stop
    await page.getByLabel('Max tokens').fill('6000');
    await page.getByLabel('Message').fill('Go on');
    await page.getByRole('button', { name: 'Send' }).click();
    const length = () => answer.nth(1).evaluate((e) => e.textContent!.length);
    await page.waitForFunction(() => (document.querySelectorAll('.chat-msg.assistant .chat-text')[1]?.textContent?.length ?? 0) > 20);
    const early = await length();
    await page.waitForFunction((n) => document.querySelectorAll('.chat-msg.assistant .chat-text')[1]!.textContent!.length > n, early);
    await screenshot(page, 'playground-chat-streaming');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.chat-finish[data-finish="stopped"]').waitFor();
    await page.getByRole('button', { name: 'Send' }).waitFor();
    const stopped = await length();
    assert.ok(stopped > early, 'more text arrived between the two looks');
    // the server saw the client go away and stopped generating
    const aborts = async () => {
      const text = await (await fetch(`${s.url}/metrics`, authed())).text();
      return Number(/ferry_generation_requests_total\{[^}]*model="tiny-chat"[^}]*finish_reason="abort"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    // the abort is counted when the server's stream notices the closed socket: poll, boundedly
    for (let i = 0, seen = await aborts(); seen < 1; seen = await aborts(), i++) {
      assert.ok(i < 2000, 'the server counted the stopped request as finish_reason="abort"');
      await page.waitForTimeout(0);
    }
    assert.equal(await length(), stopped, 'nothing more arrives after Stop');
    assert.ok(stopped < 6000, 'stopped well before the token limit');
    await screenshot(page, 'playground-chat');
    assertNoErrors(d);
    await d.close();
  });

  it('generates images, and the same seed draws the same images', async () => {
    const d = await open('#/playground/decoder');
    const { page } = d;
    await page.getByLabel('Images').fill('3');
    await page.getByLabel(/Seed/).fill('42');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('[data-seed="42"]').waitFor();
    const images = page.getByRole('img', { name: /generated image/ });
    assert.equal(await images.count(), 3);
    const first = await images.evaluateAll((els) => els.map((e) => (e as HTMLImageElement).src));
    assert.ok(first.every((src) => src.startsWith('data:image/png;base64,')));
    assert.equal(new Set(first).size, 3, 'three different images');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('button', { name: 'Generate' }).and(page.locator(':not([aria-busy="true"])')).waitFor();
    assert.deepEqual(await images.evaluateAll((els) => els.map((e) => (e as HTMLImageElement).src)), first);
    await screenshot(page, 'playground-images');
    assertNoErrors(d);
    await d.close();
  });

  it('sends the tensor editor\'s sample request and shows the outputs; bad JSON is named', async () => {
    const d = await open('#/playground/mnist-cnn/tensors');
    const { page } = d;
    const editor = page.getByLabel('Request (V2 JSON)');
    const sample = JSON.parse(await editor.inputValue()) as { inputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
    assert.deepEqual(sample.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })), [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] }]);
    assert.ok(sample.inputs[0]!.data.length === 784 && sample.inputs[0]!.data.every((v) => v === 0));
    assert.match(await editor.inputValue(), /"shape": \[1, 1, 28, 28\]/, 'short arrays stay on one line');
    await page.getByRole('button', { name: 'Send' }).click();
    const response = page.locator('#tensor-response');
    await response.filter({ hasText: '"name": "probabilities"' }).waitFor();
    assert.match(await response.textContent() ?? '', /"model_name": "mnist-cnn"/);
    await screenshot(page, 'playground-tensors');

    await editor.fill('{\n  "inputs": [\n    {"name": "input",, "datatype": "FP32"}\n  ]\n}');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('alert').filter({ hasText: /not valid JSON at line 3, column \d+/ }).waitFor();
    // the server's own explanation when the JSON is fine but the tensor is not
    await editor.fill('{"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 784], "data": [0]}]}');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('alert').filter({ hasText: /\(HTTP 400\)/ }).waitFor();
    assert.match(await page.getByRole('alert').textContent() ?? '', /input "pixels"/);
    assert.doesNotMatch(await response.textContent() ?? '', /probabilities/, 'no stale answer beside the error');
    await screenshot(page, 'playground-tensors-error');
    assertNoErrors(d);
    await d.close();
  });

  const post = async <T,>(path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${s.url}${path}`, authed({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as T;
  };

  it('explains a drawn digit: attributions drawn over the strokes, complete, for the digit picked', async () => {
    const d = await open('#/playground/mnist-cnn');
    const { page } = d;
    // a "1" off to the left: the model's 28×28 field is fitted around it, and so is the heatmap
    await stroke(page, page.getByLabel(/Drawing area/), [[80, 40], [82, 140], [80, 240]]);
    const digit = await predicted(page);
    const sent = page.waitForRequest((r) => r.url().endsWith('/v2/models/mnist-cnn/versions/1/explain'));
    await page.getByRole('switch', { name: 'Explain' }).focus();
    await page.keyboard.press('Space');
    const heat = page.locator('canvas.digit-heatmap');
    const shown = async (method: string, target: string) => {
      await page.locator(`canvas.digit-heatmap[data-method="${method}"][data-target="${target}"]`).waitFor();
      await page.locator('.explain-status[aria-busy="false"][data-state="shown"]').waitFor();
    };
    await shown('integrated_gradients', digit);
    const body = JSON.parse((await sent).postData()!) as { inputs: { shape: number[]; data: number[] }[]; parameters: object };
    assert.deepEqual([body.inputs[0]!.shape, body.inputs[0]!.data.length, body.parameters], [[1, 1, 28, 28], 784, {}], 'the prediction\'s input, the method and target left to the server');
    type Explained = { method: string; steps: number; target: { index: number }; completeness: { sum: number; outputDelta: number; relativeError: number } };
    const want = await post<Explained>('/v2/models/mnist-cnn/explain', body);
    assert.equal(await heat.getAttribute('data-cells'), '784');
    const sum = Number(await heat.getAttribute('data-sum'));
    assert.ok(Math.abs(sum - want.completeness.sum) <= 1e-4 * Math.abs(want.completeness.sum), `Σ drawn ${sum} vs the API's ${want.completeness.sum}`);
    assert.ok(Math.abs(sum - want.completeness.outputDelta) <= want.completeness.relativeError * Math.abs(want.completeness.outputDelta) + 1e-4, 'complete: Σ ≈ logit(x) − logit(0)');
    assert.equal(Number(await page.locator('.explain-status').getAttribute('data-relative-error')), want.completeness.relativeError);
    assert.match(await page.locator('.explain-how').textContent() ?? '', new RegExp(`^Integrated gradients · Σ attributions .* \\(\\d+\\.\\d\\d% off\\) · ${want.steps} steps$`));

    // the red cells lie on the strokes: each cell's footprint on the drawing, read from the page
    const onStroke = await page.evaluate(() => {
      const h = document.querySelector<HTMLCanvasElement>('canvas.digit-heatmap')!;
      const c = document.querySelector<HTMLCanvasElement>('canvas.digit-canvas')!;
      const cells = h.getContext('2d')!.getImageData(0, 0, 28, 28).data;
      const ink = c.getContext('2d')!.getImageData(0, 0, 280, 280).data;
      const [hr, cr] = [h.getBoundingClientRect(), c.getBoundingClientRect()];
      const k = 280 / cr.width;
      let on = 0, all = 0;
      for (let i = 0; i < 784; i++) {
        if (cells[i * 4]! !== 255) continue; // blue: negative
        const a = cells[i * 4 + 3]!;
        const x0 = Math.floor((hr.left - cr.left + ((i % 28) * hr.width) / 28) * k), y0 = Math.floor((hr.top - cr.top + (Math.floor(i / 28) * hr.height) / 28) * k);
        const x1 = Math.ceil((hr.left - cr.left + (((i % 28) + 1) * hr.width) / 28) * k), y1 = Math.ceil((hr.top - cr.top + ((Math.floor(i / 28) + 1) * hr.height) / 28) * k);
        let inked = false;
        for (let y = Math.max(0, y0); y < Math.min(280, y1) && !inked; y++) for (let x = Math.max(0, x0); x < Math.min(280, x1); x++) if (ink[(y * 280 + x) * 4]! > 12) { inked = true; break; }
        all += a;
        if (inked) on += a;
      }
      return { on, all };
    });
    assert.ok(onStroke.all > 0 && onStroke.on / onStroke.all > 0.95, `positive attribution on the strokes: ${onStroke.on} of ${onStroke.all}`);
    await screenshot(page, 'playground-explain-digit');

    // another digit by clicking its bar; back to the predicted one from the keyboard
    const other = digit === '3' ? '8' : '3';
    await page.locator(`.bar-row[data-label="${other}"]`).click();
    await shown('integrated_gradients', other);
    await page.getByText(`Why ${other} (predicted ${digit})`).waitFor();
    const toOther = await post<Explained>('/v2/models/mnist-cnn/explain', { ...body, parameters: { target: Number(other) } });
    assert.ok(Math.abs(Number(await heat.getAttribute('data-sum')) - toOther.completeness.sum) <= 1e-4 * Math.abs(toOther.completeness.sum) + 1e-6);
    await page.getByLabel('Explain digit').selectOption('');
    await page.getByLabel('Method').selectOption('occlusion');
    await shown('occlusion', digit);
    assert.match(await page.locator('.explain-how').textContent() ?? '', /^Occlusion · \d+ px patches, stride \d+ \(\d+ runs\)$/);

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('Draw a digit to see').waitFor();
    assert.equal(await heat.count(), 0, 'no explanation without a drawing');
    assertNoErrors(d);
    await d.close();
  });

  it('says why a model falls back to occlusion, and shows the error when integrated gradients are insisted on; predictions go on', async () => {
    const d = await open('#/playground/clipped');
    const { page } = d;
    await page.getByRole('switch', { name: 'Explain' }).check();
    await page.getByRole('button', { name: 'Draw a sample “0”' }).click();
    await predicted(page);
    await page.locator('canvas.digit-heatmap[data-method="occlusion"]').waitFor();
    assert.match(await page.locator('.explain-fallback').textContent() ?? '', /not integrated gradients: op Clip has no gradient rule/);
    await page.getByLabel('Method').selectOption('integrated_gradients');
    const alert = page.locator('.explain-status[data-state="error"]').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent() ?? '', /integrated gradients cannot explain model "clipped" version 1: op Clip has no gradient rule.*\(HTTP 400\)/);
    assert.equal(await page.locator('canvas.digit-heatmap').count(), 0, 'no stale heatmap beside the error');
    // the prediction is unaffected
    const before = await page.locator('.bar-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset['value']).join());
    await page.getByRole('button', { name: 'Draw a sample “1”' }).click();
    await page.waitForFunction((b) => [...document.querySelectorAll<HTMLElement>('.bar-row')].map((r) => r.dataset['value']).join() !== b, before);
    await predicted(page);
    assert.equal(await page.locator('.digit-pad [role="alert"]').count(), 1, 'only the explain error');
    assertNoErrors(d);
    await d.close();
  });

  it('explains a classified text token by token, for the label or one picked', async () => {
    const d = await open('#/playground/sentiment');
    const { page } = d;
    const text = 'the food was great, the  service slow';
    await page.getByLabel('Text', { exact: true }).fill(text);
    await page.locator('.text-answer[aria-busy="false"] .prediction[data-label]').waitFor();
    await page.getByRole('switch', { name: 'Explain' }).check();
    type Explained = { label: string; method: string; target: { label: string }; tokens: { token: string; start: number | null; end: number | null; special: boolean; score: number }[] };
    const check = async (target?: string, method?: string) => {
      const want = await post<Explained>('/v1/classifications/explain', { model: 'sentiment', input: text, ...(target ? { target } : {}), ...(method ? { method } : {}) });
      await page.locator(`.token-text[data-target="${want.target.label}"]`).waitFor();
      await page.locator('.explain-status[aria-busy="false"][data-state="shown"]').waitFor();
      assert.equal(await page.locator('.token-text').getAttribute('data-method'), want.method);
      assert.equal(await page.locator('.token-text').textContent(), text, 'the original string, special tokens hidden');
      const marks = await page.locator('.token-text mark').evaluateAll((ms) => ms.map((m) => {
        const e = m as HTMLElement;
        return { text: e.textContent, start: Number(e.dataset['start']), end: Number(e.dataset['end']), score: Number(e.dataset['score']), label: e.getAttribute('aria-label') };
      }));
      const real = want.tokens.filter((t) => !t.special);
      assert.ok(want.tokens.some((t) => t.special) && real.length > 0);
      assert.deepEqual(marks.map((m) => [m.start, m.end]), real.map((t) => [t.start, t.end]), 'one highlight per token');
      for (const [i, m] of marks.entries()) {
        assert.equal(m.text, text.slice(m.start, m.end), 'each highlight is its span of the input');
        assert.ok(Math.abs(m.score - real[i]!.score) <= 1e-6 * Math.max(1, Math.abs(real[i]!.score)), `${m.text}: ${m.score} vs ${real[i]!.score}`);
        assert.match(m.label!, new RegExp(`: [+−]\\d.* toward ${want.target.label}$`));
      }
      return want;
    };
    const first = await check();
    assert.equal(first.method, 'integrated_gradients');
    await page.getByText(`Why ${first.label} (the label)`).waitFor();
    await screenshot(page, 'playground-explain-text');
    const other = LABELS.find((l) => l !== first.label)!;
    await page.getByLabel('Explain label').selectOption(other);
    await page.getByLabel('Method').selectOption('occlusion');
    assert.equal((await check(other, 'occlusion')).method, 'occlusion');
    await page.getByText(`Why ${other} (labelled ${first.label})`).waitFor();
    assertNoErrors(d);
    await d.close();
  });

  it('fits a phone: no sideways scrolling on any playground', async () => {
    const d = await open('#/playground/mnist-cnn', PHONE);
    const { page } = d;
    await page.getByRole('button', { name: 'Draw a sample “3”' }).or(page.getByRole('button', { name: /Draw a sample/ })).click();
    await predicted(page);
    await page.getByRole('switch', { name: 'Explain' }).check();
    await page.locator('canvas.digit-heatmap').waitFor();
    await assertNoHorizontalScroll(page);
    await screenshot(page, 'playground-phone-digit');
    for (const hash of ['sentiment', 'tiny-chat', 'decoder', 'mnist-cnn/tensors', 'silero-vad']) {
      await page.goto(`${s.url}/#/playground/${hash}`);
      await page.locator('.playground-head').waitFor();
      await page.locator('main form, main .digit-pad').first().waitFor();
      await assertNoHorizontalScroll(page);
      if (hash === 'tiny-chat') await screenshot(page, 'playground-phone-chat');
    }
    assertNoErrors(d);
    await d.close();
  });
});
