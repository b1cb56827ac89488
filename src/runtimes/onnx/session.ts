// One onnxruntime-node session and the conversions between Ferry tensors and ORT tensors. This folder
// is the only place in Ferry that imports onnxruntime-node (STYLE: native bindings in one folder).
import ort from 'onnxruntime-node';
import { FerryError } from '../../core/errors.js';
import type { DType, NamedTensors, Tensor } from '../../core/tensor.js';
import type { RuntimeOptions, Signature, TensorSpec } from '../runtime.js';

const ORT_TO_DTYPE: Readonly<Record<string, DType>> = {
  bool: 'BOOL', uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64',
  int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64',
  float16: 'FP16', float32: 'FP32', float64: 'FP64', string: 'BYTES',
};
const DTYPE_TO_ORT: Readonly<Record<DType, ort.Tensor.Type>> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function specOf(meta: ort.InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) {
    throw new FerryError('INVALID_ARGUMENT', `model value "${meta.name}" is not a tensor (sequences and maps are not served)`);
  }
  const dtype = ORT_TO_DTYPE[meta.type];
  if (dtype === undefined) {
    throw new FerryError('INVALID_ARGUMENT', `model value "${meta.name}" has element type ${meta.type}, which Ferry cannot serve`);
  }
  return { name: meta.name, dtype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

function toOrt(t: Tensor): ort.Tensor {
  const dims = t.shape as number[];
  if (t.dtype === 'BYTES') {
    // ONNX strings are UTF-8 and ORT's node binding takes JS strings, which it cuts at a NUL byte:
    // refuse what would not survive the trip instead of changing it silently.
    const strings = (t.data as Uint8Array[]).map((b, i) => {
      let s: string;
      try {
        s = utf8Decoder.decode(b);
      } catch {
        throw new FerryError('INVALID_ARGUMENT', `BYTES element ${i} is not valid UTF-8; this model takes ONNX strings, which must be UTF-8 text`);
      }
      if (s.includes('\0')) throw new FerryError('INVALID_ARGUMENT', `BYTES element ${i} contains a NUL byte, which ONNX strings cannot hold`);
      return s;
    });
    return new ort.Tensor('string', strings, dims);
  }
  return new ort.Tensor(DTYPE_TO_ORT[t.dtype], t.data as Exclude<Tensor['data'], Uint8Array[]>, dims);
}

function fromOrt(v: ort.Tensor): Tensor {
  const dtype = ORT_TO_DTYPE[v.type];
  if (dtype === undefined) throw new FerryError('INTERNAL', `the model produced an unsupported tensor type ${v.type}`);
  const data = dtype === 'BYTES' ? (v.data as string[]).map((s) => utf8.encode(s)) : (v.data as Tensor['data']);
  return { dtype, shape: v.dims.slice(), data };
}

export interface Session {
  readonly signature: Signature;
  run(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors>;
  release(): Promise<void>;
}

export async function openSession(path: string, options: RuntimeOptions): Promise<Session> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // 4 = fatal only: run errors reach the client and our log as FerryErrors, not native stderr.
      logSeverityLevel: 4,
    });
  } catch (err) {
    throw new FerryError('INVALID_ARGUMENT', `onnxruntime could not load the model: ${(err as Error).message}`, { cause: err });
  }
  let signature: Signature;
  try {
    signature = { inputs: session.inputMetadata.map(specOf), outputs: session.outputMetadata.map(specOf) };
  } catch (err) {
    await session.release();
    throw err;
  }
  return {
    signature,
    async run(inputs, outputs) {
      const feeds: Record<string, ort.Tensor> = {};
      let result: ort.InferenceSession.ReturnType;
      try {
        for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrt(t);
        result = outputs && outputs.length > 0 ? await session.run(feeds, outputs as string[]) : await session.run(feeds);
      } catch (err) {
        if (err instanceof FerryError) throw err;
        // ORT's messages name the node and the shapes involved, which is what the caller needs to fix the input.
        throw new FerryError('INVALID_ARGUMENT', `the model failed to run on this input: ${(err as Error).message}`, { cause: err });
      }
      const out: NamedTensors = {};
      for (const [name, v] of Object.entries(result)) out[name] = fromOrt(v as ort.Tensor);
      return out;
    },
    release: () => session.release(),
  };
}

export interface GraphSessionOptions {
  readonly intraOpThreads?: number;
}

/** A session on an in-memory model, tuned for the training engine's run-after-run loop: spinning
 *  threads are turned off because JS works between runs (the notes measured spinning as a loss). */
export async function openGraphSession(model: Uint8Array, options: GraphSessionOptions = {}): Promise<Session> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4,
      extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
    });
  } catch (err) {
    throw new FerryError('INTERNAL', `onnxruntime could not load a training graph: ${(err as Error).message}`, { cause: err });
  }
  const signature = { inputs: session.inputMetadata.map(specOf), outputs: session.outputMetadata.map(specOf) };
  return {
    signature,
    async run(inputs, outputs) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrt(t);
      let result: ort.InferenceSession.ReturnType;
      try {
        result = outputs && outputs.length > 0 ? await session.run(feeds, outputs as string[]) : await session.run(feeds);
      } catch (err) {
        // the graphs are Ferry's own, so a failure here is ours to report (with ORT's node and shapes)
        throw new FerryError('INTERNAL', `a training graph failed to run: ${(err as Error).message}`, { cause: err });
      }
      const out: NamedTensors = {};
      for (const [name, v] of Object.entries(result)) out[name] = fromOrt(v as ort.Tensor);
      return out;
    },
    release: () => session.release(),
  };
}
