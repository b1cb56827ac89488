// Starts a real Ferry on loopback (port 0) over a fresh temporary data folder, for integration tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '../../src/core/clock.js';
import { DEFAULT_CONFIG, type FerryConfig } from '../../src/core/config.js';
import { Ferry } from '../../src/ferry.js';
import { createLogger } from '../../src/monitor/logger.js';
import { OpenAuthorizer } from '../../src/security/authorizer.js';

export interface TestServer {
  readonly ferry: Ferry;
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

export type ConfigOverrides = Partial<Omit<FerryConfig, 'batching'>> & { batching?: Partial<FerryConfig['batching']> };

export function tempDir(prefix = 'ferry-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** `auth: true` runs the production authorizer (API keys; the first admin key is ferry.firstAdminKey
 *  on a fresh folder). Without it the server lets every request through, as the tests of serving,
 *  training and the registry want: an explicit test-only choice, not a default of Ferry's. */
export async function startServer(overrides: ConfigOverrides = {}, opts: { clock?: Clock; dataDir?: string; auth?: boolean; now?: () => Date } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const config: FerryConfig = {
    ...DEFAULT_CONFIG,
    port: 0,
    data: dataDir,
    logLevel: 'silent',
    // Built-ins cost ~0.5 s of copying and checking; tests that need them turn them on.
    builtinModels: false,
    ...overrides,
    batching: { ...DEFAULT_CONFIG.batching, ...overrides.batching },
  };
  const ferry = await Ferry.create({ config, clock: opts.clock, now: opts.now, logger: createLogger(config.logLevel), ...(opts.auth ? {} : { authorizer: new OpenAuthorizer() }) });
  const url = await ferry.listen();
  return {
    ferry, url, dataDir,
    close: async () => {
      await ferry.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** POSTs raw bytes as a new version of `name` through the admin API. */
export async function pushModel(url: string, name: string, bytes: Uint8Array, config?: object): Promise<Response> {
  const q = config ? `?config=${encodeURIComponent(JSON.stringify(config))}` : '';
  return fetch(`${url}/api/models/${encodeURIComponent(name)}/versions${q}`, { method: 'POST', body: Buffer.from(bytes), headers: { 'content-type': 'application/octet-stream' } });
}
