// Losses, and what each one means for a model once trained: the outputs its exported inference graph
// carries and how a prediction is scored as correct.
import * as F from '../autodiff/fn.js';
import { fmtShape, shapeError, type Value } from '../autodiff/tape.js';

/** 'elbo' is the network's own objective (Module.objective: a VAE's negative evidence lower bound),
 *  which needs no targets; the others compare the network's output with a target. */
export const LOSSES = ['crossEntropy', 'mse', 'binaryCrossEntropy', 'elbo'] as const;
export type LossName = (typeof LOSSES)[number];
export type TargetLoss = Exclude<LossName, 'elbo'>;

/** How targets are fed for a loss: class ids, float rows, or not at all. */
export function targetKind(loss: LossName): 'classes' | 'floats' | 'none' {
  return loss === 'crossEntropy' ? 'classes' : loss === 'elbo' ? 'none' : 'floats';
}

/** The mean loss over the batch. `out` is the network's raw output (logits for the two
 *  classification losses, which fold the softmax / sigmoid in for numerical stability). */
export function lossValue(loss: TargetLoss, out: Value, target: Value): Value {
  switch (loss) {
    case 'crossEntropy': {
      // [N, classes] with one class id per example, or [N, T, classes] with one per position (a
      // language model's next token): the mean over every id either way
      const lead = out.shape.slice(0, -1);
      if ((out.rank !== 2 && out.rank !== 3) || target.rank !== lead.length || target.shape.some((d, i) => d >= 0 && lead[i]! >= 0 && d !== lead[i])) {
        throw shapeError(`crossEntropy expects logits [N, classes] with targets [N], or [N, T, classes] with targets [N, T], from the network; got logits ${fmtShape(out.shape)} and targets ${fmtShape(target.shape)}`);
      }
      const logp = F.logSoftmax(out, -1);
      const picked = F.reduceSum(F.mul(logp, F.oneHot(target, out.shape.at(-1)!)), [-1]);
      return F.neg(F.meanAll(picked));
    }
    case 'mse': {
      checkSame(loss, out, target);
      const d = F.sub(out, target);
      return F.meanAll(F.mul(d, d));
    }
    case 'binaryCrossEntropy': {
      // with logits z and targets t in {0, 1}:  softplus(z) − z·t  ==  −t·log σ(z) − (1−t)·log(1−σ(z))
      checkSame(loss, out, target);
      return F.meanAll(F.sub(F.softplus(out), F.mul(out, target)));
    }
  }
}

/** How many predictions in the batch were right (classification; for sequences, positions whose
 *  next token was predicted), as a float scalar. */
export function correctCount(loss: TargetLoss, out: Value, target: Value): Value | undefined {
  switch (loss) {
    case 'crossEntropy':
      return F.sumAll(F.cast(F.equal(F.argmax(out, -1), target), 'FP32'));
    case 'binaryCrossEntropy': {
      const predicted = F.cast(F.greater(out, F.scalar(out, 0)), 'FP32');
      return F.sumAll(F.cast(F.equal(predicted, target), 'FP32'));
    }
    case 'mse':
      return undefined;
  }
}

/** The outputs the exported model serves. A language model ([N, T, vocab]) serves its logits alone:
 *  sampling is the server's business, and probabilities would double the largest tensor it returns. */
export function servingOutputs(loss: TargetLoss, out: Value): Record<string, Value> {
  switch (loss) {
    case 'crossEntropy':
      return out.rank === 3 ? { logits: out } : { logits: out, probabilities: F.softmax(out, -1) };
    case 'binaryCrossEntropy':
      return { logits: out, probabilities: F.sigmoid(out) };
    case 'mse':
      return { output: out };
  }
}

function checkSame(loss: string, out: Value, target: Value): void {
  const a = out.shape.slice(1);
  const b = target.shape.slice(1);
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw shapeError(`${loss}: the network outputs ${fmtShape(out.shape)} but the targets are ${fmtShape(target.shape)}`);
  }
}
