// Text generation, below HTTP: what a generative model offers (tokenize, generate a stream of
// tokens) and what one request asks of it. The OpenAI routes translate to and from these; the llama
// runtime (node-llama-cpp, GGUF) implements GenerativeModel.

export interface Sampling {
  /** 0 picks the most likely token every time (greedy); default 1 */
  readonly temperature: number;
  readonly topP?: number;
  readonly topK?: number;
  /** same seed and same prompt give the same output */
  readonly seed?: number;
}

export interface GenerateRequest {
  /** the prompt as token ids, special tokens included (Ferry tokenizes, so usage is exact) */
  readonly prompt: readonly number[];
  readonly maxTokens: number;
  readonly sampling: Sampling;
  /** a GBNF-style constraint from response_format, already checked */
  readonly json?: { readonly schema?: object };
  /** how many of the most likely alternatives to report per token (OpenAI's top_logprobs); undefined: no logprobs */
  readonly logprobs?: number;
  /** stops the generation and frees its sequence at once (a client that went away) */
  readonly signal: AbortSignal;
}

export interface GeneratedToken {
  readonly id: number;
  /** natural log of the token's probability, when logprobs were asked for */
  readonly logprob?: number;
  readonly top?: readonly { readonly id: number; readonly logprob: number }[];
}

export interface GenerativeModel {
  /** tokens the model attends to, prompt and output together */
  readonly contextLength: number;
  /** the chat template from the model file (Jinja), when it has one */
  readonly chatTemplate?: string;
  readonly bosToken?: string;
  readonly eosToken?: string;
  tokenize(text: string, opts?: { readonly special?: boolean; readonly bos?: boolean }): number[];
  /** `previous`: the ids just before these, for tokenizers whose text depends on what came before */
  detokenize(ids: readonly number[], previous?: readonly number[]): string;
  /**
   * Generates until an end-of-generation token, maxTokens, the signal, or `onToken` returning false.
   * Waits for a free sequence first; rejects with RESOURCE_EXHAUSTED when too many requests already
   * wait. A callback, not an async iterator: one generator layer less per token on the hot path.
   */
  generate(req: GenerateRequest, onToken: (token: GeneratedToken) => boolean): Promise<void>;
  /** requests generating now, and waiting for a sequence */
  load(): { readonly running: number; readonly waiting: number };
  unload(): Promise<void>;
}

export interface GenerativeRuntime {
  load(path: string, opts: { readonly parallel: number; readonly maxQueue: number; readonly threads: number }): Promise<GenerativeModel>;
}
