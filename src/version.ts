// Ferry's version, read once from package.json so the server, the CLI and model records agree.
import { readFileSync } from 'node:fs';

export const FERRY_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
