// `ferry serve`: load the config, start the server, and drain gracefully on SIGTERM/SIGINT.
import { checkOpenMode, loadConfig } from '../core/config.js';
import { FerryError } from '../core/errors.js';
import { Ferry } from '../ferry.js';

export interface ServeFlags {
  host?: string;
  port?: string;
  data?: string;
  config?: string;
  logLevel?: string;
  open?: boolean;
}

const LISTEN_HINTS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'another process is using that port; pick a free one with --port or FERRY_PORT',
  EACCES: 'not allowed to bind there (ports below 1024 need privileges); pick another with --port or FERRY_PORT',
  EADDRNOTAVAIL: 'no network interface has that address; check --host or FERRY_HOST',
};

export async function serve(flags: ServeFlags): Promise<void> {
  let config;
  try {
    config = loadConfig({ file: flags.config, env: process.env, flags: { host: flags.host, port: flags.port, data: flags.data, logLevel: flags.logLevel, open: flags.open ? 'true' : undefined } });
    checkOpenMode(config);
  } catch (err) {
    if (err instanceof FerryError) {
      process.stderr.write(`ferry: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const ferry = await Ferry.create({ config });
  let stopping = false;
  let url: string;
  try {
    url = await ferry.listen();
  } catch (err) {
    const hint = LISTEN_HINTS[(err as NodeJS.ErrnoException).code ?? ''];
    if (!hint) throw err;
    await ferry.close();
    process.stderr.write(`ferry: cannot listen on ${config.host}:${config.port}: ${hint}\n`);
    process.exit(1);
  }
  if (ferry.firstAdminKey) {
    // The only time this key is shown: its hash is all the server keeps.
    process.stderr.write([
      'ferry: no API keys yet, so this admin key was made (tenant "admin", every scope). It is shown only now; keep it:',
      '',
      `    ${ferry.firstAdminKey}`,
      '',
      '  send it as "Authorization: Bearer <key>" or "x-api-key: <key>"; for the CLI: export FERRY_API_KEY=<key>',
      '  then make narrower keys: ferry keys create --tenant NAME --scopes infer',
      `  the dashboard: open ${url}/ and log in with it`,
      '',
    ].join('\n'));
  }
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    ferry.logger.info({ signal }, 'stopping: no new requests, finishing in-flight ones');
    const force = setTimeout(() => {
      ferry.logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'in-flight requests did not finish in time; exiting anyway');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    ferry.close().then(
      () => {
        ferry.logger.info('stopped');
        ferry.logger.flush();
        process.exitCode = 0;
      },
      (err: unknown) => {
        ferry.logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
