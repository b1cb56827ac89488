// A Hugging Face model folder uploaded as a tar (optionally gzip-compressed): read whole, unpacked in
// memory, and packed into the one ONNX file Ferry registers, by the same code `ferry models push DIR`
// runs on the client. The result is pushed like any .onnx upload, so the registry's checks still apply.
import type { Readable } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import { maybeGunzip, readTar, tarFiles } from '../../core/tar.js';
import { TEXT_TASKS } from '../../tasks/text-runtime.js';
import { packHfFiles, type PackOptions } from '../../text/hf-import.js';
import { memoryFiles } from '../../text/model-files.js';

/** Content types that mean "a tar of a model folder"; gzip is unpacked first. */
const TAR_TYPES = new Set(['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip']);

export function isTarUpload(contentType: string | undefined): boolean {
  return TAR_TYPES.has((contentType ?? '').split(';')[0]!.trim().toLowerCase());
}

const SEND = 'send a tar of the folder with Content-Type: application/x-tar and ?task=text-classification or ?task=feature-extraction';

/** The task and truncation query parameters of a tar upload, checked before the body is read. */
export function packOptions(query: { task?: string; truncation?: string }): PackOptions {
  const { task, truncation } = query;
  if (task === undefined) throw new FerryError('INVALID_ARGUMENT', `a Hugging Face model folder needs the query parameter "task"; ${SEND}`);
  if (!(TEXT_TASKS as readonly string[]).includes(task)) {
    throw new FerryError('INVALID_ARGUMENT', `query parameter "task" must be one of ${TEXT_TASKS.join(', ')}; got ${JSON.stringify(task.slice(0, 100))}`);
  }
  if (truncation !== undefined && truncation !== 'true' && truncation !== 'false') {
    throw new FerryError('INVALID_ARGUMENT', `query parameter "truncation" must be true or false; got ${JSON.stringify(truncation.slice(0, 40))}`);
  }
  return { task, truncation: truncation === 'true' };
}

/** The whole body, refused as soon as it passes limitBytes (the server's maxUploadBytes). */
export async function readBody(body: Readable, limitBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Not destroyed here: that would reset the socket before the 413 goes out. The upload scope's
    // error handler answers with `Connection: close`, which drops the unread rest.
    if (size > limitBytes) {
      throw new FerryError('PAYLOAD_TOO_LARGE', `the upload is larger than the limit of ${limitBytes} bytes; raise maxUploadBytes in the server config`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The packed ONNX bytes of a tar (or .tar.gz) of a Hugging Face model folder. */
export function packTar(archive: Uint8Array, opts: PackOptions, limitBytes: number): Uint8Array {
  if (archive.length === 0) throw new FerryError('INVALID_ARGUMENT', `the body is empty; ${SEND}`);
  const files = tarFiles(readTar(maybeGunzip(archive, limitBytes)));
  return packHfFiles(memoryFiles(files), opts);
}
