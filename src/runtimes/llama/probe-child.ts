// Run as a child process by probe.ts, never imported: loads a GGUF file with llama.cpp, makes a
// context, evaluates one token, and prints what it found as one JSON line. If llama.cpp crashes on
// the file, only this process dies.
import { getLlama } from 'node-llama-cpp';

const file = process.argv[2];
if (!file) throw new Error('usage: probe-child FILE');
const llama = await getLlama({ gpu: false, build: 'never', logger: () => {}, progressLogs: false });
const model = await llama.loadModel({ modelPath: file });
const context = await model.createContext({ contextSize: Math.min(model.trainContextSize, 256), threads: 1 });
const seq = context.getSequence();
const prompt = model.tokenize('Hello');
const bos = model.tokens.bos;
const ids = bos !== null ? [bos, ...prompt] : prompt;
for await (const _ of seq.evaluate(ids, { temperature: 0 })) break;
process.stdout.write(JSON.stringify({ contextLength: model.trainContextSize, vocab: model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? null }) + '\n');
await context.dispose();
await model.dispose();
process.exit(0);
