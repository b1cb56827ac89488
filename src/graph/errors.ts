// The one error Ferry raises for bytes that are not a usable ONNX model. It is a FerryError with
// INVALID_ARGUMENT, so every protocol renders it as a 400 with the message unchanged: the message
// alone must tell the uploader what is wrong with the file and what to send instead.
import { FerryError } from '../core/errors.js';

export class OnnxFormatError extends FerryError {
  /** byte offset in the file where the problem was found, when there is one */
  readonly offset?: number;

  constructor(message: string, options: { offset?: number; cause?: unknown } = {}) {
    super('INVALID_ARGUMENT', message, { cause: options.cause });
    this.name = 'OnnxFormatError';
    this.offset = options.offset;
  }
}

/** Turns whatever protobufjs threw while reading at `pos` into a message a person can act on. */
export function decodeFailure(err: unknown, pos: number, total: number): OnnxFormatError {
  if (err instanceof OnnxFormatError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  // protobufjs says "index out of range" whenever a length or varint runs past the end of the
  // bytes (or of its enclosing message): a cut-off upload looks exactly like this.
  if (/index out of range/.test(detail)) {
    return new OnnxFormatError(
      `ONNX data ends early: a field at byte ${pos} runs past the end of the file (${total} bytes). ` +
        'The upload was probably cut off, or this is not an ONNX file; send the complete .onnx file.',
      { offset: pos, cause: err },
    );
  }
  if (/nesting depth|call stack/i.test(detail)) {
    return new OnnxFormatError(
      `not an ONNX model: messages are nested too deeply at byte ${pos} of ${total}`,
      { offset: pos, cause: err },
    );
  }
  return new OnnxFormatError(
    `not an ONNX model: protobuf decode failed at byte ${pos} of ${total} (${detail})`,
    { offset: pos, cause: err },
  );
}

// Files people upload by mistake instead of an ONNX export. Checked only after the ONNX check has
// already failed, so a real model can never be rejected because its first bytes look like these.
const FOREIGN: ReadonlyArray<{ test: (b: Uint8Array) => boolean; what: string }> = [
  { test: (b) => startsWith(b, [0x50, 0x4b, 0x03, 0x04]),
    what: 'a ZIP archive (a PyTorch .pt/.pth checkpoint or a zipped model?); export it with torch.onnx.export or unzip it first' },
  { test: (b) => startsWith(b, [0x47, 0x47, 0x55, 0x46]),
    what: 'a GGUF model; serve it with the llama runtime instead of onnx' },
  { test: (b) => startsWith(b, [0x89, 0x48, 0x44, 0x46]),
    what: 'an HDF5 file (a Keras .h5 model?); convert it with tf2onnx first' },
  { test: (b) => b.length >= 8 && startsWith(b.subarray(4), [0x54, 0x46, 0x4c, 0x33]),
    what: 'a TensorFlow Lite model; convert it with tf2onnx first' },
  { test: (b) => b.length >= 2 && b[0] === 0x80 && b[1]! >= 2 && b[1]! <= 5,
    what: 'a Python pickle (a PyTorch or scikit-learn checkpoint?); export it to ONNX first' },
  { test: (b) => b.length > 9 && b[8] === 0x7b && b[9] === 0x22,
    what: 'a safetensors weights file, which holds no graph; export the model to ONNX first' },
  { test: (b) => /^\s*[{[<]/.test(new TextDecoder().decode(b.subarray(0, 64))),
    what: 'a text file (JSON, XML or HTML?), not a binary .onnx model' },
];

function startsWith(b: Uint8Array, magic: readonly number[]): boolean {
  return b.length >= magic.length && magic.every((m, i) => b[i] === m);
}

/** A clearer error for a known non-ONNX format, or null. */
export function foreignFormat(bytes: Uint8Array, cause: OnnxFormatError): OnnxFormatError | null {
  const hit = FOREIGN.find((f) => f.test(bytes));
  return hit ? new OnnxFormatError(`not an ONNX model: this looks like ${hit.what}`, { cause }) : null;
}
