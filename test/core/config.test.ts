import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_CONFIG, envName, loadConfig } from '../../src/core/config.js';
import { FerryError } from '../../src/core/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ferry-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Writes `content` (an object as JSON, or raw text) to a fresh file and returns its path. */
function configFile(content: unknown): string {
  const file = path.join(dir, `config-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Asserts loadConfig fails with INVALID_ARGUMENT and a message matching every pattern. */
function assertConfigError(load: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(load, (e: unknown) => {
    assert.ok(e instanceof FerryError);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('loadConfig', () => {
  it('gives the defaults when nothing is set', () => {
    const config = loadConfig();
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.equal(config.port, 8080);
    assert.equal(config.batching.maxBatchSize, 64);
    config.batching.maxBatchSize = 1;
    assert.equal(DEFAULT_CONFIG.batching.maxBatchSize, 64, 'a loaded config is a copy, not the defaults object');
  });

  it('layers file < environment < flags, key by key', () => {
    const file = configFile({ host: '0.0.0.0', port: 1000, logLevel: 'warn', batching: { maxBatchSize: 8, instances: 2 } });
    const config = loadConfig({
      file,
      env: { FERRY_PORT: '2000', FERRY_LOG_LEVEL: 'debug', FERRY_BATCHING_MAX_BATCH_SIZE: '16' },
      flags: { port: '3000' },
    });
    assert.deepEqual(
      [config.host, config.port, config.logLevel, config.batching.maxBatchSize, config.batching.instances, config.batching.maxQueueSize],
      ['0.0.0.0', 3000, 'debug', 16, 2, DEFAULT_CONFIG.batching.maxQueueSize],
    );
  });

  it('reads the file named by FERRY_CONFIG, unless a file is given explicitly', () => {
    const fromEnv = configFile({ port: 1111 });
    const explicit = configFile({ port: 2222 });
    assert.equal(loadConfig({ env: { FERRY_CONFIG: fromEnv } }).port, 1111);
    assert.equal(loadConfig({ file: explicit, env: { FERRY_CONFIG: fromEnv } }).port, 2222);
  });

  it('maps keys to FERRY_* environment names', () => {
    assert.deepEqual(
      ['port', 'logLevel', 'idleUnloadMs', 'batching.maxBatchSize', 'batching.defaultTimeoutMs'].map(envName),
      ['FERRY_PORT', 'FERRY_LOG_LEVEL', 'FERRY_IDLE_UNLOAD_MS', 'FERRY_BATCHING_MAX_BATCH_SIZE', 'FERRY_BATCHING_DEFAULT_TIMEOUT_MS'],
    );
  });

  it('parses text from the environment into integers and booleans', () => {
    const config = loadConfig({ env: { FERRY_BUILTIN_MODELS: 'false', FERRY_MEMORY_BUDGET_BYTES: '0', FERRY_DATA: '/srv/ferry', FERRY_HOST: '' } });
    assert.deepEqual([config.builtinModels, config.memoryBudgetBytes, config.data, config.host], [false, 0, '/srv/ferry', DEFAULT_CONFIG.host]);
  });

  it('ignores flags left undefined (options the user did not pass)', () => {
    assert.equal(loadConfig({ env: { FERRY_PORT: '2000' }, flags: { port: undefined } }).port, 2000);
  });

  describe('names the bad key and where it came from', () => {
    it('an unknown key in the file, nested or not', () => {
      const file = configFile({ batching: { maxBatch: 8 } });
      assertConfigError(() => loadConfig({ file }), new RegExp(`config file ${file.replace(/[.\\]/g, '\\$&')}`), /unknown configuration key "batching\.maxBatch"/, /known keys: .*batching\.maxBatchSize/);
      assertConfigError(() => loadConfig({ file: configFile({ prot: 8080 }) }), /unknown configuration key "prot"/);
    });

    it('a key that only exists on Object.prototype', () => {
      assertConfigError(() => loadConfig({ file: configFile({ toString: 1 }) }), /unknown configuration key "toString"/);
      assertConfigError(() => loadConfig({ file: configFile('{"__proto__": 1}') }), /unknown configuration key "__proto__"/);
      assertConfigError(() => loadConfig({ flags: { constructor: 'x' } }), /unknown configuration key "constructor"/);
    });

    it('a port from the environment that is not an integer', () => {
      assertConfigError(() => loadConfig({ env: { FERRY_PORT: 'eighty' } }), /environment variable FERRY_PORT/, /"port" must be an integer from 0 to 65535; got "eighty"/);
      assertConfigError(() => loadConfig({ env: { FERRY_PORT: '80.5' } }), /FERRY_PORT/);
      assertConfigError(() => loadConfig({ env: { FERRY_PORT: '70000' } }), /FERRY_PORT.*from 0 to 65535; got "70000"/);
    });

    it('a log level flag that is not a level', () => {
      assertConfigError(() => loadConfig({ flags: { logLevel: 'loud' } }), /command-line flag for "logLevel"/, /one of fatal, error, warn, info, debug, trace, silent; got "loud"/);
    });

    it('a file value of the wrong JSON type', () => {
      assertConfigError(() => loadConfig({ file: configFile({ port: '8080' }) }), /config file .*"port" must be an integer/);
      assertConfigError(() => loadConfig({ file: configFile({ builtinModels: 'yes' }) }), /"builtinModels" must be true or false/);
      assertConfigError(() => loadConfig({ env: { FERRY_BUILTIN_MODELS: 'yes' } }), /FERRY_BUILTIN_MODELS.*true or false/);
    });

    it('a file that is not JSON, not an object, or not there', () => {
      const bad = configFile('{ port: 8080 }');
      assertConfigError(() => loadConfig({ file: bad }), new RegExp(`config file ${bad.replace(/[.\\]/g, '\\$&')} could not be read as JSON`));
      assertConfigError(() => loadConfig({ file: configFile('[1, 2]') }), /must hold a JSON object/);
      assertConfigError(() => loadConfig({ file: path.join(dir, 'missing.json') }), /missing\.json could not be read/);
    });
  });
});

describe('loadConfig environment checks', () => {
  it('refuses a misspelt FERRY_ variable, naming it', () => {
    assert.throws(() => loadConfig({ env: { FERRY_PROT: '9999' } }), (e: Error) => e.message.includes('FERRY_PROT') && e.message.includes('FERRY_PORT'));
    assert.equal(loadConfig({ env: { FERRY_URL: 'http://x', OTHER: '1' } }).port, 8080);
  });
});
