// The GGUF runtime as the server holds it: node-llama-cpp (a large module, and llama.cpp's native
// library) is imported on the first generative load, so servers that never serve one never pay for it.
import type { GenerativeModel, GenerativeRuntime } from '../../tasks/generation.js';

export class LlamaRuntime implements GenerativeRuntime {
  private engine?: Promise<GenerativeRuntime>;

  async load(path: string, opts: { parallel: number; maxQueue: number; threads: number }): Promise<GenerativeModel> {
    this.engine ??= import('./llama-engine.js').then((m) => new m.LlamaEngine());
    return (await this.engine).load(path, opts);
  }
}
