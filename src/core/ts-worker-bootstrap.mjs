// Starts a TypeScript worker when Ferry runs from source (tests and benchmarks run under tsx): loader
// hooks do not carry over into worker threads on Node 20, so the worker registers tsx itself first.
// The built server never uses this file: its workers are plain .js.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
