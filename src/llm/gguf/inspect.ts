// What the registry needs to know of an uploaded GGUF file, from Ferry's own reader: it is refused
// here, with a message, when llama.cpp could not load it (or could crash on it).
import { FerryError } from '../../core/errors.js';
import type { Signature } from '../../runtimes/runtime.js';
import { checkLlamaGguf, type LlamaShape } from './llama-check.js';
import { GgufError, readGgufHeader } from './read.js';

/** A generative model takes a prompt and gives text; the OpenAI routes are its real interface. */
export const GENERATIVE_SIGNATURE: Signature = {
  inputs: [{ name: 'prompt', dtype: 'BYTES', shape: [-1] }],
  outputs: [{ name: 'text', dtype: 'BYTES', shape: [-1] }],
};

export interface GgufSummary {
  readonly shape: LlamaShape;
  readonly name?: string;
  readonly hasChatTemplate: boolean;
}

export function inspectGguf(file: string): GgufSummary {
  try {
    const header = readGgufHeader(file);
    const shape = checkLlamaGguf(header);
    const name = header.metadata.get('general.name');
    return { shape, ...(name?.type === 'string' ? { name: name.value } : {}), hasChatTemplate: header.metadata.get('tokenizer.chat_template')?.type === 'string' };
  } catch (err) {
    if (err instanceof GgufError) throw new FerryError('INVALID_ARGUMENT', `the upload is not a GGUF model Ferry can serve: ${err.message}`);
    throw err;
  }
}
