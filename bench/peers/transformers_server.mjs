// The Node peer for `npm run bench -- text`: a plain fastify server around @huggingface/transformers'
// text-classification pipeline, as a Node developer would write one. It loads a Hugging Face model
// folder from disk (remote models disabled) and answers POST /classify {"input": "text"} with the
// pipeline's output for that one text, every label with its score ([{label, score}, …], best first).
//
//   node bench/peers/transformers_server.mjs DIR PORT
//
// The pipeline tokenizes with truncation to the tokenizer's model_max_length (it always does: the
// text-classification pipeline passes truncation: true) and runs the model on onnxruntime-node with
// transformers.js' default session options. No batching: each request is one pipeline call.
import Fastify from 'fastify';
import { env, pipeline } from '@huggingface/transformers';

const [dir, port] = process.argv.slice(2);
if (!dir || !port) {
  process.stderr.write('usage: node bench/peers/transformers_server.mjs DIR PORT\n');
  process.exit(2);
}
env.allowRemoteModels = false;
const classify = await pipeline('text-classification', dir, { dtype: 'fp32' });

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/classify', async (request, reply) => {
  const input = request.body?.input;
  if (typeof input !== 'string' || input.trim() === '') {
    return reply.code(400).send({ error: '"input" must be a non-empty string' });
  }
  return classify(input, { top_k: null });
});
app.get('/health', async () => ({ ok: true }));

const close = async () => {
  await app.close();
  await classify.dispose();
  process.exit(0);
};
process.once('SIGTERM', close);
process.once('SIGINT', close);
await app.listen({ port: Number(port), host: '127.0.0.1' });
