// Packing a Hugging Face folder reads a folder on disk and files in memory (an uploaded tar) through
// one path: the same bytes, the same messages naming the missing file. sentence-transformers'
// modules.json decides pooling and normalization; modes Ferry cannot serve are refused by name.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { inspectOnnx } from '../../src/graph/onnx.js';
import { packHfDirectory, packHfFiles } from '../../src/text/hf-import.js';
import { memoryFiles } from '../../src/text/model-files.js';
import { hfEncoder, poolingFiles, writeFolder } from '../fixtures/hf-encoder.js';
import { tempDir } from '../helpers/server.js';

const encoder = hfEncoder();
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** ferry.text of the packed model, for a folder with the encoder's files plus `extra` */
function textOptions(extra: Iterable<[string, Uint8Array]>): Record<string, unknown> {
  const packed = packHfFiles(memoryFiles(new Map([...encoder.files, ...extra])), { task: 'feature-extraction' });
  return JSON.parse(inspectOnnx(packed).metadata['ferry.text']!) as Record<string, unknown>;
}

const refused = (extra: Iterable<[string, Uint8Array]>, message: RegExp) =>
  assert.throws(() => textOptions(extra), (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT' && message.test(e.message));

describe('packing a Hugging Face folder', () => {
  const dir = tempDir('ferry-hf-import-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same bytes from a folder on disk and from files in memory', () => {
    const files = new Map([...encoder.files, ...poolingFiles({ pooling_mode_cls_token: true })]);
    writeFolder(dir, files);
    const fromDisk = packHfDirectory(dir, { task: 'feature-extraction', truncation: true });
    const fromMemory = packHfFiles(memoryFiles(files), { task: 'feature-extraction', truncation: true });
    assert.deepEqual(fromMemory, fromDisk);
    assert.deepEqual(JSON.parse(inspectOnnx(fromDisk).metadata['ferry.text']!), { truncation: true, pooling: 'cls', normalize: false });
  });

  it('names the missing file, with the folder\'s path on disk and as "the archive" in memory', () => {
    const without = new Map(encoder.files);
    without.delete('tokenizer.json');
    assert.throws(() => packHfFiles(memoryFiles(without), { task: 'feature-extraction' }),
      /^FerryError: the archive has no tokenizer\.json; a Hugging Face model folder needs config\.json, tokenizer\.json, tokenizer_config\.json and onnx\/model\.onnx$/);
    rmSync(path.join(dir, 'tokenizer.json'));
    assert.throws(() => packHfDirectory(dir, { task: 'feature-extraction' }), new RegExp(`^FerryError: ${dir} has no tokenizer\\.json; a Hugging Face`));
    without.set('tokenizer.json', encoder.files.get('tokenizer.json')!);
    without.delete('onnx/model.onnx');
    assert.throws(() => packHfFiles(memoryFiles(without), { task: 'feature-extraction' }), /the archive has no onnx\/model\.onnx/);
    without.set('config.json', new TextEncoder().encode('{"model_type": '));
    assert.throws(() => packHfFiles(memoryFiles(without), { task: 'feature-extraction' }), /config\.json is not valid JSON/);
  });

  it('takes cls, mean or max pooling from the Pooling module of modules.json; none without modules.json', () => {
    assert.deepEqual(textOptions([]), { truncation: false });
    assert.equal(textOptions(poolingFiles({ pooling_mode_cls_token: true })).pooling, 'cls');
    assert.equal(textOptions(poolingFiles({ pooling_mode_mean_tokens: true })).pooling, 'mean');
    assert.equal(textOptions(poolingFiles({ pooling_mode_max_tokens: true })).pooling, 'max');
  });

  it('normalizes only for a module whose type is Normalize, not for any mention of the word', () => {
    const mean = { pooling_mode_mean_tokens: true };
    assert.equal(textOptions(poolingFiles(mean, [{ type: 'sentence_transformers.models.Normalize', path: '2_Normalize' }])).normalize, true);
    const folderNamed = [['modules.json', json([{ type: 'sentence_transformers.models.Transformer', path: '0_Normalize_later' }])]] as [string, Uint8Array][];
    assert.deepEqual(textOptions(folderNamed), { truncation: false, normalize: false });
  });

  it('refuses pooling it cannot serve, naming the mode, and modules it would not apply', () => {
    refused(poolingFiles({ pooling_mode_weightedmean_tokens: true }), /asks for pooling_mode_weightedmean_tokens, which Ferry does not serve/);
    refused(poolingFiles({ pooling_mode_lasttoken: true }), /asks for pooling_mode_lasttoken/);
    refused(poolingFiles({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: true }), /several pooling modes at once \(pooling_mode_cls_token, pooling_mode_mean_tokens\)/);
    refused(poolingFiles({}), /1_Pooling\/config\.json turns on no pooling mode/);
    refused(poolingFiles({ pooling_mode_mean_tokens: true }, [{ type: 'sentence_transformers.models.Dense', path: '2_Dense' }]), /lists a sentence_transformers\.models\.Dense module, which Ferry does not apply/);
    refused(poolingFiles({ pooling_mode_mean_tokens: true }).slice(0, 1), /lists a Pooling module in "1_Pooling" but the archive has no 1_Pooling\/config\.json/);
    refused([['modules.json', json([{ type: 'sentence_transformers.models.Pooling', path: '../../etc' }])]], /the Pooling module's path "\.\.\/\.\.\/etc" must be a folder inside the model folder/);
    refused([['modules.json', json({ type: 'Pooling' })]], /modules\.json must be a list of modules/);
  });
});
