// The `ferry` command line.
import { Command } from 'commander';
import { FERRY_VERSION } from '../version.js';
import { ApiError, FerryClient } from './client.js';
import { keyCommands } from './keys.js';
import { modelCommands } from './models.js';
import type { ServeFlags } from './serve.js';
import type { TrainFlags } from './train.js';
import { optimizeCommands } from './optimize.js';

const program = new Command('ferry')
  .version(FERRY_VERSION)
  .description('AI models as a service: train, serve, register and manage models')
  .option('--url <url>', 'Ferry server for client commands (env FERRY_URL)', process.env.FERRY_URL ?? 'http://127.0.0.1:8080')
  .option('--api-key <key>', 'API key for client commands (env FERRY_API_KEY)');

program.command('serve').description('start the server (defaults: 127.0.0.1:8080, data in ./ferry-data)')
  .option('--host <host>', 'address to bind (env FERRY_HOST)')
  .option('--port <port>', 'port (env FERRY_PORT)')
  .option('--data <dir>', 'data folder for metadata and artifacts (env FERRY_DATA)')
  .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env FERRY_LOG_LEVEL)')
  .option('--open', 'development mode on loopback only: inference without an API key (env FERRY_OPEN)')
  // Imported on use: the server pulls in onnxruntime, SQLite and fastify, which the client commands
  // do not need and which would add ~110 ms to every `ferry models ...`.
  .action(async (flags: ServeFlags) => (await import('./serve.js')).serve(flags));

program.command('train').description('train a model from a recipe (mnist-mlp, mnist-cnn) or a spec.json and register it')
  .argument('<recipe|spec.json>')
  .option('--epochs <n>', 'override the number of epochs')
  .option('--batch-size <n>', 'override the batch size')
  .option('--seed <n>', 'override the random seed')
  .option('--name <model>', 'register under this model name')
  .option('--from <model[:version]>', 'fine-tune: start from a registered version\'s weights')
  .option('--threads <n>', 'onnxruntime threads (default: every core)')
  .option('--out <file.onnx>', 'also write the trained model to a file')
  .option('--hf-dir <dir>', 'also write a text classifier as a Hugging Face model folder (transformers.js, Optimum)')
  .option('--gguf <file>', 'also write a trained language model (tiny-gpt) as a GGUF file in the llama architecture, for llama.cpp')
  .option('--no-register', 'do not register the result')
  .option('--data <dir>', 'data folder to register in (env FERRY_DATA)')
  .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
  .option('--server', 'run it as a training job on the server at --url instead of here')
  .option('--json', 'print one JSON line with the final metrics and the registered version last')
  .action(async (target: string, flags: TrainFlags) => {
    const { url, apiKey } = program.opts<{ url: string; apiKey?: string }>();
    return (await import('./train.js')).trainCommand(target, flags, url, apiKey ?? (process.env.FERRY_API_KEY || undefined));
  });

const client = () => {
  const { url, apiKey } = program.opts<{ url: string; apiKey?: string }>();
  return new FerryClient(url, apiKey ?? (process.env.FERRY_API_KEY || undefined));
};
modelCommands(program, client);
keyCommands(program, client);
optimizeCommands(program, client);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`ferry: ${err instanceof ApiError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
