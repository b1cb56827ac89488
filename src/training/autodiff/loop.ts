// K training steps per onnxruntime run: the step graph becomes the body of an ONNX Loop whose
// loop-carried values are the parameters and optimizer state, so they stay inside onnxruntime for
// K steps instead of being copied out to JS and back in after every step (onnxruntime-node has no
// IO binding to keep them there otherwise). Per-step inputs (the batch, its targets, dropout masks,
// learning-rate scalars) are fed stacked along a new first axis and picked by the iteration number.
import { attr } from '../../graph/builder.js';
import { OnnxDataType } from '../../graph/dtypes.js';
import type { GraphProto, NodeProto, OnnxModel, ValueInfoProto } from '../../graph/onnx.js';

export interface LoopSpec {
  /** inputs carried from one step to the next; the step outputs `${name}.next` for each */
  readonly carried: readonly string[];
  /** inputs that differ per step: fed as `${name}.steps`, stacked on a new first axis */
  readonly perStep: readonly string[];
  /** per-step outputs, returned stacked: one value per step */
  readonly scans: readonly string[];
}

export const STEPS_INPUT = 'steps';
export const stackedName = (name: string): string => `${name}.steps`;
export const nextOf = (name: string): string => `${name}.next`;

/** Wraps a train-step model (as emitted by emitOnnx) in a Loop that runs `steps` iterations. */
export function loopModel(step: OnnxModel, spec: LoopSpec): OnnxModel {
  const g = step.graph!;
  const byName = new Map(g.input.map((v) => [v.name!, v]));
  const find = (name: string): ValueInfoProto => {
    const v = byName.get(name) ?? g.output.find((o) => o.name === name);
    if (!v) throw new Error(`the step graph has no input or output '${name}'`);
    return v;
  };
  const perStep = new Set(spec.perStep);
  const carried = new Set(spec.carried);
  // everything else the step reads (e.g. frozen parameters) comes from the outer graph as it is
  const outer = g.input.filter((v) => !perStep.has(v.name!) && !carried.has(v.name!));

  const gathers: NodeProto[] = spec.perStep.filter((n) => byName.has(n)).map((n) => ({
    opType: 'Gather', name: `pick_${n}`, input: [stackedName(n), 'iteration'], output: [n],
    attribute: [{ ...attr.int(0), name: 'axis' }],
  }));
  const body: GraphProto = {
    name: 'step',
    node: [...gathers, ...g.node, { opType: 'Identity', name: 'keep_going', input: ['cond_in'], output: ['cond_out'], attribute: [] }],
    initializer: g.initializer,
    input: [scalarInfo('iteration', OnnxDataType.INT64), scalarInfo('cond_in', OnnxDataType.BOOL), ...spec.carried.map(find)],
    output: [scalarInfo('cond_out', OnnxDataType.BOOL), ...spec.carried.map((n) => find(nextOf(n))), ...spec.scans.map(find)],
    valueInfo: [],
  };
  const loop: NodeProto = {
    opType: 'Loop', name: 'steps',
    input: [STEPS_INPUT, 'always', ...spec.carried],
    output: [...spec.carried.map(nextOf), ...spec.scans],
    attribute: [{ ...attr.graph(body), name: 'body' }],
  };
  const main: GraphProto = {
    name: 'train_steps',
    node: [loop],
    initializer: [{ name: 'always', dataType: OnnxDataType.BOOL, dims: [], rawData: Uint8Array.of(1), floatData: [], int32Data: [], stringData: [], int64Data: [], externalData: [], doubleData: [], uint64Data: [] }],
    input: [
      scalarInfo(STEPS_INPUT, OnnxDataType.INT64),
      ...spec.carried.map(find),
      ...spec.perStep.filter((n) => byName.has(n)).map((n) => stacked(find(n), stackedName(n))),
      ...outer,
    ],
    output: [...spec.carried.map((n) => find(nextOf(n))), ...spec.scans.map((n) => stacked(find(n), n))],
    valueInfo: [],
  };
  return { ...step, graph: main };
}

function scalarInfo(name: string, elemType: number): ValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: [] } } } };
}

/** The value under `name`, with a leading 'steps' dimension. */
function stacked(v: ValueInfoProto, name: string): ValueInfoProto {
  const t = v.type!.tensorType!;
  return { name, type: { tensorType: { elemType: t.elemType, shape: { dim: [{ dimParam: 'steps' }, ...(t.shape?.dim ?? [])] } } } };
}
