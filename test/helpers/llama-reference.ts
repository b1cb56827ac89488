// llama's forward pass written out with loops in float64, from a parameter map named the way Ferry's
// DecoderLM names them (Linear weights [in, out]). It follows llama.cpp's graph for
// general.architecture = llama, step by step, and shares no code with src/training, so a test that
// compares the two checks Ferry's ONNX against the arithmetic llama.cpp will do with the same weights:
//
//   x = tokens[ids]
//   per block:  h = x + Wo·Attn(RMSNorm(x)·attnNorm);  x = h + Wdown·(silu(Wgate·n) ⊙ Wup·n), n = RMSNorm(h)·ffnNorm
//   logits = Woutput · RMSNorm(x)·norm
//
// RoPE turns adjacent pairs (q[2i], q[2i+1]) of each head by p·ropeBase^(−2i/headDim) (llama.cpp's
// LLAMA_ROPE_TYPE_NORM); attention is causal with scale 1/√headDim.
//
//   const logits = llamaForward(result.params, { vocab: 300, dim: 16, heads: 2, layers: 1, ffn: 24, eps: 1e-5, ropeBase: 10000 }, [1, 40, 41]);
//   logits.subarray(2 * 300, 3 * 300);  // the next-token logits after the third id

export interface LlamaConfig {
  readonly vocab: number;
  readonly dim: number;
  readonly heads: number;
  readonly layers: number;
  readonly ffn: number;
  readonly eps: number;
  readonly ropeBase: number;
}

/** Next-token logits for every position of `ids`: [T, vocab], row-major. */
export function llamaForward(params: ReadonlyMap<string, Float32Array>, cfg: LlamaConfig, ids: readonly number[]): Float32Array {
  const { vocab: V, dim: D, heads: H, layers: L, ffn: FF, eps } = cfg;
  const hd = D / H;
  const T = ids.length;
  const get = (name: string, size: number): Float32Array => {
    const p = params.get(name);
    if (!p) throw new Error(`llamaForward: no parameter ${name}`);
    if (p.length !== size) throw new Error(`llamaForward: ${name} has ${p.length} values, expected ${size}`);
    return p;
  };
  /** x [in] · W [in, out] */
  const linear = (x: Float64Array, w: Float32Array, inF: number, outF: number): Float64Array => {
    const y = new Float64Array(outF);
    for (let i = 0; i < inF; i++) {
      const xi = x[i]!;
      for (let o = 0; o < outF; o++) y[o]! += xi * w[i * outF + o]!;
    }
    return y;
  };
  const rmsNorm = (x: Float64Array, w: Float32Array): Float64Array => {
    let ss = 0;
    for (const v of x) ss += v * v;
    const scale = 1 / Math.sqrt(ss / x.length + eps);
    return x.map((v, i) => v * scale * w[i]!);
  };
  /** rotates each head's adjacent pairs in place for position p */
  const rope = (x: Float64Array, p: number): void => {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const theta = p * Math.pow(cfg.ropeBase, (-2 * i) / hd);
        const [c, s] = [Math.cos(theta), Math.sin(theta)];
        const a = h * hd + 2 * i;
        const [x0, x1] = [x[a]!, x[a + 1]!];
        x[a] = x0 * c - x1 * s;
        x[a + 1] = x0 * s + x1 * c;
      }
    }
  };

  const tokens = get('tokens', V * D);
  let xs: Float64Array[] = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`llamaForward: id ${id} is outside the vocabulary`);
    return Float64Array.from(tokens.subarray(id * D, (id + 1) * D));
  });
  for (let l = 0; l < L; l++) {
    const b = `blocks.${l}`;
    const [wq, wk, wv, wo] = ['q', 'k', 'v', 'out'].map((n) => get(`${b}.attention.${n}.weight`, D * D));
    const attnNorm = get(`${b}.attnNorm.weight`, D);
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    xs.forEach((x, p) => {
      const n = rmsNorm(x, attnNorm);
      const qp = linear(n, wq!, D, D);
      const kp = linear(n, wk!, D, D);
      rope(qp, p);
      rope(kp, p);
      q.push(qp);
      k.push(kp);
      v.push(linear(n, wv!, D, D));
    });
    const hs = xs.map((x, i) => {
      const attended = new Float64Array(D);
      for (let h = 0; h < H; h++) {
        const o = h * hd;
        // query i sees keys 0..i only
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[i]![o + d]! * k[j]![o + d]!;
          scores.push(dot / Math.sqrt(hd));
        }
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const sum = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j <= i; j++) {
          for (let d = 0; d < hd; d++) attended[o + d]! += (e[j]! / sum) * v[j]![o + d]!;
        }
      }
      const out = linear(attended, wo!, D, D);
      return x.map((val, d) => val + out[d]!);
    });
    const ffnNorm = get(`${b}.ffnNorm.weight`, D);
    const gate = get(`${b}.gate.weight`, D * FF);
    const up = get(`${b}.up.weight`, D * FF);
    const down = get(`${b}.down.weight`, FF * D);
    xs = hs.map((h) => {
      const n = rmsNorm(h, ffnNorm);
      const g = linear(n, gate, D, FF);
      const u = linear(n, up, D, FF);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const y = linear(act, down, FF, D);
      return h.map((val, d) => val + y[d]!);
    });
  }
  const norm = get('norm.weight', D);
  const output = get('output.weight', D * V);
  const logits = new Float32Array(T * V);
  xs.forEach((x, t) => logits.set(linear(rmsNorm(x, norm), output, D, V), t * V));
  return logits;
}
