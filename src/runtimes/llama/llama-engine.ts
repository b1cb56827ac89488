// GGUF models on llama.cpp through node-llama-cpp 3.21.1: the one file that imports it.
//
// One context per loaded model with `parallel` sequences: requests that hold a sequence decode
// together in one batch (node-llama-cpp batches pending work of a context's sequences), and requests
// beyond `parallel` wait in a bounded FIFO queue. A request that ends early (the client went away,
// a stop string matched) clears its sequence and hands it to the next waiter at once.
import { getLlama, LlamaGrammarEvaluationState, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaGrammar, type LlamaModel, type Token } from 'node-llama-cpp';
import type { GeneratedToken, GenerateRequest, GenerativeModel, GenerativeRuntime } from '../../tasks/generation.js';
import { Slots } from '../../tasks/slots.js';

let shared: Promise<Llama> | undefined;
/** llama.cpp's CPU build, loaded once per process (about a second). Its log lines go nowhere: load
 *  failures surface as errors from loadModel, and llama.cpp's own chatter is not Ferry's log. */
function llamaInstance(): Promise<Llama> {
  shared ??= getLlama({ gpu: false, build: 'never', logger: () => {}, progressLogs: false });
  return shared;
}

/**
 * Resolves once the decodes asked for in this event-loop turn have gone to llama.cpp. node-llama-cpp
 * collects a context's pending decodes and dispatches them as one batch on setImmediate ("nextCycle",
 * its default, named below); an immediate queued from that one runs in the next turn, after the
 * dispatch. One promise per turn, shared by every sequence whose token arrived in it.
 */
let turn: Promise<void> | undefined;
function afterDispatch(): Promise<void> {
  turn ??= new Promise((resolve) => setImmediate(() => setImmediate(() => {
    turn = undefined;
    resolve();
  })));
  return turn;
}

export class LlamaEngine implements GenerativeRuntime {
  async load(path: string, opts: { parallel: number; maxQueue: number; threads: number }): Promise<GenerativeModel> {
    const llama = await llamaInstance();
    const model = await llama.loadModel({ modelPath: path });
    try {
      const context = await model.createContext({ sequences: opts.parallel, contextSize: model.trainContextSize, threads: opts.threads, batching: { dispatchSchedule: 'nextCycle' } });
      return new LlamaGenerativeModel(llama, model, context, opts.maxQueue);
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }
}

class LlamaGenerativeModel implements GenerativeModel {
  readonly contextLength: number;
  readonly chatTemplate?: string;
  readonly bosToken?: string;
  readonly eosToken?: string;
  /** idle sequences; `slots` admits as many requests as there are sequences, and queues the rest */
  private readonly free: LlamaContextSequence[] = [];
  private readonly slots: Slots;
  private jsonGrammar?: Promise<LlamaGrammar>;

  constructor(private readonly llama: Llama, private readonly model: LlamaModel, private readonly context: LlamaContext, private readonly maxQueue: number) {
    // the model's own length: llama.cpp rounds a context up to a multiple of 256, which the model never trained for
    this.contextLength = Math.min(model.trainContextSize, context.contextSize);
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    if (typeof template === 'string') this.chatTemplate = template;
    this.bosToken = model.tokens.bosString ?? undefined;
    this.eosToken = model.tokens.eosString ?? undefined;
    for (let i = 0; i < context.totalSequences; i++) this.free.push(context.getSequence());
    this.slots = new Slots(context.totalSequences, maxQueue);
  }

  tokenize(text: string, opts: { special?: boolean; bos?: boolean } = {}): number[] {
    const ids = this.model.tokenize(text, opts.special ?? false) as number[];
    const bos = this.model.tokens.bos;
    return opts.bos && bos !== null && ids[0] !== bos ? [bos, ...ids] : ids;
  }

  detokenize(ids: readonly number[], previous?: readonly number[]): string {
    return this.model.detokenize(ids as Token[], false, previous as Token[] | undefined);
  }

  load(): { running: number; waiting: number } {
    return { running: this.slots.running, waiting: this.slots.queued };
  }

  async generate(req: GenerateRequest, onToken: (token: GeneratedToken) => boolean): Promise<void> {
    await this.slots.acquire(req.signal);
    // a slot is held per busy sequence, so one is free
    const seq = this.free.pop()!;
    try {
      const grammar = req.json ? await this.grammar(req.json.schema) : undefined;
      const { temperature, topK, topP, seed } = req.sampling;
      const options = {
        temperature,
        ...(temperature > 0 ? { topK: topK ?? 0, topP: topP ?? 1, seed: seed ?? Math.floor(Math.random() * 2 ** 31) } : {}),
        ...(grammar ? { grammarEvaluationState: new LlamaGrammarEvaluationState({ model: this.model, grammar }) } : {}),
      };
      if (req.maxTokens <= 0) return;
      const want = req.logprobs !== undefined;
      const tokens = (want
        ? seq.evaluateWithMetadata(req.prompt as Token[], { probabilities: true }, options)
        : seq.evaluateWithMetadata(req.prompt as Token[], {}, options))[Symbol.asyncIterator]();
      // One token ahead: the next token is asked for before this one is handed on, and handing it on
      // waits until llama.cpp has that decode, so the caller's per-token work (detokenizing, the
      // socket write) runs while the next token decodes instead of before it. A generation that ends
      // early (a stop string, a client gone) costs one decode that nobody reads.
      // handled at once: a failure while this token is being handed on surfaces at the next `await next`
      const ask = () => {
        const p = tokens.next();
        p.catch(() => {});
        return p;
      };
      let next = ask();
      let count = 0;
      try {
        for (;;) {
          const out = await next;
          if (out.done || req.signal.aborted) break;
          const more = ++count < req.maxTokens;
          if (more) {
            next = ask();
            await afterDispatch();
            if (req.signal.aborted) break;
          }
          const id = out.value.token as number;
          let goOn: boolean;
          if (want) {
            const probs = (out.value as unknown as { probabilities: Map<Token, number> }).probabilities;
            const p = probs.get(out.value.token) ?? 0;
            const top = [...probs].sort((a, b) => b[1] - a[1]).slice(0, req.logprobs).map(([t, q]) => ({ id: t as number, logprob: Math.log(q) }));
            goOn = onToken({ id, logprob: Math.log(p), top });
          } else {
            goOn = onToken({ id });
          }
          if (!goOn || !more) break;
        }
      } finally {
        // waits for a token asked for but not read, then ends the generator (its sampler, its lock)
        await tokens.return(undefined);
      }
    } finally {
      await seq.clearHistory();
      this.free.push(seq);
      this.slots.release();
    }
  }

  private async grammar(schema: object | undefined): Promise<LlamaGrammar> {
    if (schema) return this.llama.createGrammarForJsonSchema(schema as never);
    this.jsonGrammar ??= this.llama.getGrammarFor('json');
    return this.jsonGrammar;
  }

  async unload(): Promise<void> {
    this.slots.close('the model was unloaded');
    await this.context.dispose();
    await this.model.dispose();
  }
}
