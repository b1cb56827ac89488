// The HTTP server: fastify with one plugin per protocol (V2, admin API, metrics), each rendering its
// own error envelope. Cross-cutting concerns live here once: request ids, access logs without
// payloads, and the authorization seam every route passes through.
import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { FerryConfig } from '../core/config.js';
import { FerryError } from '../core/errors.js';
import type { Monitor } from '../monitor/monitor.js';
import type { JobService } from '../training/jobs/job-service.js';
import type { Registry } from '../registry/registry.js';
import type { ModelPool } from '../scheduler/model-pool.js';
import type { Scope } from '../security/authorizer.js';
import { installAuthHooks, type SecurityDeps } from './auth-hooks.js';
import { installCors } from './cors.js';
import { adminRoutes } from './admin/routes.js';
import { openaiRoutes } from './openai/routes.js';
import type { GenerationPool } from '../scheduler/generation-pool.js';
import type { Clock } from '../core/clock.js';
import { kserveV2Routes } from './kserve-v2/routes.js';
import { opsRoutes } from './ops-routes.js';
import { dashboardRoutes } from './dashboard.js';

export interface ServerDeps {
  readonly config: FerryConfig;
  readonly registry: Registry;
  /** training jobs; absent in servers built without them (some tests) */
  readonly jobs?: JobService;
  readonly pool: ModelPool;
  /** generative (GGUF) models; absent in servers built without them (some tests) */
  readonly generation?: GenerationPool;
  readonly monitor: Monitor;
  /** timers that tests move by hand; default the system clock */
  readonly clock?: Clock;
  /** keys, tenants and the audit log (auth-hooks.ts) */
  readonly security: SecurityDeps;
  /** TLS certificate and key (PEM), when the server speaks HTTPS */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly logger: Logger;
  readonly version: string;
  /** false while starting or draining; /v2/health/ready follows it */
  readonly isReady: () => boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: Scope;
  }
  interface FastifyInstance {
    /** every route as registered: the authorization matrix test walks it, so no route goes unchecked */
    routeTable: RouteEntry[];
  }
}

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly scope: Scope;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Maps any error to a FerryError: fastify's own (body too large, bad content type) keep their status. */
export function toFerryError(err: unknown, bodyLimitBytes?: number): FerryError {
  if (err instanceof FerryError) return err;
  const fe = err as FastifyError;
  const status = fe.statusCode ?? 500;
  if (status === 413) {
    const limit = bodyLimitBytes === undefined ? '' : ` of ${bodyLimitBytes} bytes`;
    return new FerryError('PAYLOAD_TOO_LARGE', `the request body is larger than the server's limit${limit}; send less data per request or raise bodyLimitBytes`);
  }
  if (status === 415) return new FerryError('UNSUPPORTED_MEDIA_TYPE', `${fe.message}; send the Content-Type of the body, e.g. application/json`);
  if (status === 404) return new FerryError('NOT_FOUND', fe.message);
  if (status === 503) return new FerryError('UNAVAILABLE', fe.message, { retryAfterSeconds: 1 });
  // Any other client error fastify raises (bad Content-Length, malformed headers) is the client's to fix.
  if (status >= 400 && status < 500) return new FerryError('INVALID_ARGUMENT', fe.message);
  return new FerryError('INTERNAL', 'internal error; the server log has the details under this request id', { cause: err });
}

/** Sends a FerryError with the status, Retry-After, and the envelope the protocol wants. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown, envelope: (e: FerryError) => unknown): FastifyReply {
  const e = toFerryError(err, request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit);
  if (e.code === 'INTERNAL') request.log.error({ err: e.cause ?? e }, 'request failed');
  if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
  return reply.code(e.status).send(envelope(e));
}

export function buildServer(deps: ServerDeps): FastifyInstance {
  const bootId = randomBytes(3).toString('hex');
  let seq = 0;
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger at run time; the types differ only in optional fields.
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.bodyLimitBytes,
    // Model names may be 128 characters; fastify's default of 100 would answer 414 before our checks.
    routerOptions: { maxParamLength: 256 },
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key } } : {}),
    // Answer 503 to new requests while SIGTERM drains the in-flight ones.
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : `${bootId}-${(++seq).toString(36)}`;
    },
  });

  const routes: RouteEntry[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url, scope: r.config?.scope ?? 'public' });
  });

  // Callback-style hooks: async ones cost a promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  installCors(app, deps.config.cors.origins);
  installAuthHooks(app, deps.security, deps.registry.meta);
  // server.close() waits for every connection to end, and a client keeps the keep-alive socket of a
  // request that was in flight at shutdown: `Connection: close` lets the drain finish with it.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!deps.isReady()) reply.header('connection', 'close');
    done(null, payload);
  });
  // One access-log line per request: method, route, status, time — never bodies or tensors.
  // Successful inference requests are logged only with logInferenceRequests: at MLP scale the line
  // cost 8% of serving throughput, and their counts and latencies are in /metrics anyway.
  const logAll = deps.config.logInferenceRequests;
  app.addHook('onResponse', (request, reply, done) => {
    if (logAll || reply.statusCode >= 400 || request.routeOptions.config.scope !== 'infer') {
      request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    }
    done();
  });

  app.register(kserveV2Routes, { prefix: '/v2', deps });
  app.register(adminRoutes, { prefix: '/api', deps });
  app.register(openaiRoutes, { prefix: '/v1', deps });
  app.register(opsRoutes, { deps });
  app.register(dashboardRoutes);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}; the V2 API is under /v2, the admin API under /api` }));
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, (e) => ({ error: e.message })));
  return app;
}
