// A one-line progress bar for training on a terminal; plain lines (one per epoch) when output goes
// to a file or a pipe, where carriage returns would only make noise.
import type { EpochMetrics } from '../training/record.js';
import type { StepProgress } from '../training/trainer.js';

export class ProgressBar {
  private width = 24;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  private get live(): boolean {
    return this.out.isTTY === true;
  }

  step(p: StepProgress): void {
    if (!this.live) return;
    const done = Math.round((p.step / p.stepsPerEpoch) * this.width);
    const bar = '█'.repeat(done) + '░'.repeat(this.width - done);
    this.out.write(`\r\x1b[2Kepoch ${p.epoch}/${p.epochs} ${bar} ${p.step}/${p.stepsPerEpoch}  loss ${p.loss.toFixed(4)}${fmtTerms(p.terms)}${p.accuracy !== undefined ? `  acc ${p.accuracy.toFixed(4)}` : ''}  ${fmtRate(p.samplesPerSec)} samples/s`);
  }

  epoch(m: EpochMetrics, epochs: number): void {
    if (this.live) this.out.write('\r\x1b[2K');
    const acc = (m.testAccuracy !== undefined ? `  test acc ${m.testAccuracy.toFixed(4)}` : '') + (m.testF1 !== undefined ? `  F1 ${m.testF1.toFixed(4)}` : '');
    const trainAcc = m.trainAccuracy !== undefined ? `  acc ${m.trainAccuracy.toFixed(4)}` : '';
    this.out.write(`epoch ${m.epoch}/${epochs}  loss ${m.trainLoss.toFixed(4)}${fmtTerms(m.trainTerms)}${trainAcc}  test loss ${m.testLoss.toFixed(4)}${fmtTerms(m.testTerms)}${acc}  ${fmtRate(m.samplesPerSec)} samples/s  ${m.seconds.toFixed(2)} s\n`);
  }
}

/** a self-scoring network's loss terms, e.g. " (reconstruction 94.10, kl 12.18)" */
function fmtTerms(terms: Readonly<Record<string, number>> | undefined): string {
  if (!terms || Object.keys(terms).length === 0) return '';
  return ` (${Object.entries(terms).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')})`;
}

function fmtRate(r: number): string {
  return Math.round(r).toLocaleString('en-US');
}
