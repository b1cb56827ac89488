// How a sentence-transformers folder turns token vectors into one embedding: modules.json lists the
// modules applied after the transformer, e.g.
//
//   [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
//    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
//    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
//
// and 1_Pooling/config.json says which pooling, one boolean per mode. Ferry serves cls, mean and max
// pooling and Normalize; anything else would give vectors that differ from what sentence-transformers
// computes, so it is refused at push time instead of served wrong.
import { FerryError } from '../core/errors.js';
import type { TextOptions } from '../tasks/text-model.js';
import { readJson, type ModelFiles } from './model-files.js';

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);

/** pooling_mode_* keys of a Pooling config, and what Ferry calls the ones it serves */
const MODES: Readonly<Record<string, 'cls' | 'mean' | 'max'>> = {
  pooling_mode_cls_token: 'cls', pooling_mode_mean_tokens: 'mean', pooling_mode_max_tokens: 'max',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** pooling and normalize for a feature-extraction model; {} when the folder has no modules.json. */
export function sentenceTransformerOptions(files: ModelFiles): Pick<TextOptions, 'pooling' | 'normalize'> {
  const modules = readJson(files, 'modules.json');
  if (modules === undefined) return {};
  if (!Array.isArray(modules) || !modules.every((m) => isObject(m) && typeof m['type'] === 'string')) {
    throw bad('modules.json must be a list of modules, each with a "type", e.g. [{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}]');
  }
  let pooling: 'cls' | 'mean' | 'max' | undefined;
  let normalize = false;
  for (const m of modules as Record<string, unknown>[]) {
    const type = m['type'] as string;
    if (type.endsWith('Transformer')) continue; // the ONNX graph itself
    if (type.endsWith('Normalize')) {
      normalize = true;
    } else if (type.endsWith('Pooling')) {
      if (pooling) throw bad('modules.json lists more than one Pooling module; Ferry applies one');
      pooling = poolingMode(files, moduleFolder(m['path']));
    } else {
      throw bad(`modules.json lists a ${type.slice(0, 100)} module, which Ferry does not apply (it serves Transformer, Pooling and Normalize); its embeddings would differ from sentence-transformers'`);
    }
  }
  return { ...(pooling ? { pooling } : {}), normalize };
}

/** A module's folder inside the model folder; a path that leaves it is refused (it may name any file on disk). */
function moduleFolder(p: unknown): string {
  if (typeof p !== 'string') throw bad('modules.json: the Pooling module needs a "path", e.g. "1_Pooling"');
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (p.startsWith('/') || p.includes('\\') || parts.includes('..')) throw bad(`modules.json: the Pooling module's path ${JSON.stringify(p.slice(0, 100))} must be a folder inside the model folder, e.g. "1_Pooling"`);
  return parts.join('/');
}

function poolingMode(files: ModelFiles, folder: string): 'cls' | 'mean' | 'max' {
  const file = folder ? `${folder}/config.json` : 'config.json';
  const config = readJson(files, file);
  if (config === undefined) throw bad(`modules.json lists a Pooling module in "${folder}" but ${files.label} has no ${file}; it says which pooling to apply`);
  if (!isObject(config)) throw bad(`${file} must be a JSON object with pooling_mode_cls_token, pooling_mode_mean_tokens or pooling_mode_max_tokens`);
  const on = Object.keys(config).filter((k) => k.startsWith('pooling_mode_') && config[k] === true);
  const unsupported = on.filter((k) => !MODES[k]);
  if (unsupported.length > 0) throw bad(`${file} asks for ${unsupported.join(', ')}, which Ferry does not serve; it serves one of pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_max_tokens`);
  if (on.length > 1) throw bad(`${file} turns on several pooling modes at once (${on.join(', ')}); Ferry serves one, so set exactly one to true`);
  if (on.length === 0) throw bad(`${file} turns on no pooling mode; set one of pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_max_tokens to true`);
  return MODES[on[0]!]!;
}
