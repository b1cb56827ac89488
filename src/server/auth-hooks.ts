// Authentication, model access and the audit log, as fastify hooks on every route:
//  onRequest   who is calling (the Authorizer), before any body is read: an unauthenticated upload
//              is refused before its first byte is stored;
//  preHandler  the model the request names — in the URL (:name) or, for the OpenAI routes, in the
//              JSON body's "model" — against the caller's tenant and the key's model list;
//  onResponse  an audit row for each management action, and for each refused management request.
// Inference requests that carry a key are also admitted against their key's and tenant's limits in
// onRequest (before the body is read or anything queued), and count in the usage ledger when their
// connection is done with them ('close': it also fires for a client that went away mid-stream).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FerryError } from '../core/errors.js';
import type { MetadataStore } from '../registry/metadata-store.js';
import { splitModelRef } from '../registry/names.js';
import { noSuchModel } from '../registry/registry.js';
import { keyFromHeaders, parseKey } from '../security/api-keys.js';
import { actionOf, type AuditLog, type AuditOutcome } from '../security/audit.js';
import { checkScope, isSuperuser, type Authorizer, type Principal, type Scope } from '../security/authorizer.js';
import type { Admission } from '../security/admission.js';
import type { KeyStore } from '../security/key-store.js';
import { Meter } from '../security/meter.js';
import { redact } from '../security/redact.js';
import type { UsageRecorder } from '../security/usage.js';
import { canCreate, canManage, canSee, type JobOwners } from '../security/tenancy.js';

export interface SecurityDeps {
  readonly authorizer: Authorizer;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly jobOwners: JobOwners;
  /** wall time for key expiry and audit rows */
  readonly now: () => Date;
  /** limits and budgets at admission */
  readonly admission: Admission;
  /** the usage ledger's buffer */
  readonly usage: UsageRecorder;
  /** store request bodies, redacted, with the ledger rows */
  readonly logPayloads: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the caller; undefined when anonymous (public route, open mode, auth off) */
    principal: Principal | undefined;
    /** what a management action acted on, when the URL does not say (a new key's id, a new job's id) */
    auditTarget: string | undefined;
    /** what an inference request with a key uses; routes report model, timings and tokens into it */
    usage: Meter | undefined;
  }
}

/** Routes that change or reveal what tenants own: their refusals, and their changes, are audited. */
const MANAGEMENT: ReadonlySet<Scope> = new Set(['admin', 'train']);

const OUTCOMES: Readonly<Record<number, AuditOutcome>> = { 401: 'unauthenticated', 403: 'denied', 404: 'not_found', 429: 'throttled' };

const scopeOf = (request: FastifyRequest): Scope => request.routeOptions.config.scope ?? 'public';

/** The model a request names: the :name URL parameter, else a JSON body's "model" outside /api. */
function modelOf(request: FastifyRequest): string | undefined {
  const name = (request.params as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string') return name;
  if (request.url.startsWith('/api/')) return undefined;
  const body = request.body;
  if (body === null || typeof body !== 'object' || Buffer.isBuffer(body) || Array.isArray(body)) return undefined;
  const model = (body as { model?: unknown }).model;
  return typeof model === 'string' && model !== '' ? splitModelRef(model)[0] : undefined;
}

/** Throws NOT_FOUND (or PERMISSION_DENIED for a model the caller sees but may not change) unless the
 *  caller may use (`manage` false) or change (`manage` true) the model. */
export async function checkModelAccess(meta: MetadataStore, p: Principal | undefined, model: string, manage: boolean): Promise<void> {
  if (p === undefined || (isSuperuser(p) && p.models === null)) return;
  const info = await meta.getAccess(model);
  if (!info) {
    if (!canCreate(p, model)) throw noSuchModel(model);
    return; // the route answers for a model that does not exist (or creates it)
  }
  if (manage ? canManage(p, model, info) : canSee(p, model, info)) return;
  if (manage && canSee(p, model, info)) throw new FerryError('PERMISSION_DENIED', `model "${model}" is not this tenant's to change; it can be used but only its owner manages it`);
  throw noSuchModel(model);
}

/** The models of `list` the caller may see. */
export async function visibleModels<T extends { readonly name: string }>(meta: MetadataStore, p: Principal | undefined, list: readonly T[]): Promise<T[]> {
  if (p === undefined || (isSuperuser(p) && p.models === null)) return [...list];
  const seen = await Promise.all(list.map(async (m) => {
    const info = await meta.getAccess(m.name);
    return info !== undefined && canSee(p, m.name, info);
  }));
  return list.filter((_, i) => seen[i]);
}

/** The body as text for the payload log: JSON only (binary tensors are not text), at most 64 KiB. */
function payloadOf(request: FastifyRequest): string | undefined {
  const b = request.body;
  if (b === undefined || b === null) return undefined;
  let text: string;
  if (Buffer.isBuffer(b)) {
    if (request.headers['inference-header-content-length'] !== undefined || b.length === 0 || (b[0] !== 0x7b && b[0] !== 0x5b)) return undefined;
    text = b.toString('utf8', 0, Math.min(b.length, 65_536));
  } else {
    text = JSON.stringify(b).slice(0, 65_536);
  }
  return redact(text);
}

/** Meters an inference request with a key: admission now, usage when its connection is done with it.
 *  'close' and not fastify's onResponse: that runs on 'finish' only, and a client that goes away
 *  mid-stream must give back its ticket (concurrency, reserved tokens) too. `on`, not `once`: the
 *  event comes once, and once's wrapper costs an allocation per request. */
function meter(request: FastifyRequest, reply: FastifyReply, p: Principal, security: SecurityDeps): void {
  const m = new Meter(security.now().getTime());
  const res = reply.raw;
  request.usage = m;
  res.on('close', () => {
    // 499: the client went away before the answer was complete (nginx's code for it)
    const status = res.writableFinished ? res.statusCode : 499;
    security.usage.add(m.finish(request.id, p.keyId, p.tenant, status, reply.elapsedTime, security.logPayloads ? payloadOf(request) : undefined));
  });
  // x-ratelimit-* go with fastify's own headers: res.setHeader would make writeHead merge the two
  // sets header by header, which cost more than the rest of admission. A streamed answer (SSE) is
  // hijacked and writes its own head, so headers sent once tokens are reserved (generative
  // requests, before they stream) go on the raw response too.
  m.ticket = security.admission.admit(p, (name, value) => {
    reply.header(name, value);
    if (m.tokensReserved) res.setHeader(name, value);
  });
}

export function installAuthHooks(app: FastifyInstance, security: SecurityDeps, meta: MetadataStore): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('auditTarget', undefined);
  app.decorateRequest('usage', undefined);

  // Callback-style hooks: async ones cost a promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    const scope = scopeOf(request);
    if (scope === 'public') return done();
    security.authorizer.check({ headers: request.headers, ip: request.ip, scope, url: request.url }).then((p) => {
      request.principal = p;
      if (p !== undefined) {
        try {
          checkScope(p, scope);
          if (scope === 'infer') meter(request, reply, p, security);
        } catch (err) {
          return done(err as Error);
        }
      }
      done();
    }, done);
  });

  app.addHook('preHandler', (request, _reply, done) => {
    const scope = scopeOf(request);
    if (scope === 'public' || request.principal === undefined) return done();
    const model = modelOf(request);
    if (model === undefined) return done();
    checkModelAccess(meta, request.principal, model, MANAGEMENT.has(scope)).then(() => done(), done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    done();
    const scope = request.routeOptions.config.scope;
    if (scope === undefined || !MANAGEMENT.has(scope)) return;
    const status = reply.statusCode;
    const refused = OUTCOMES[status] !== undefined;
    // Successful reads of management routes (listing keys, jobs) are not actions.
    if (request.method === 'GET' && !refused) return;
    const p = request.principal;
    const params = (request.params ?? {}) as Record<string, string>;
    const target = request.auditTarget ?? (Object.values(params).join('/') || null);
    const presented = keyFromHeaders(request.headers as { authorization?: string; 'x-api-key'?: string });
    security.audit.append({
      time: security.now().toISOString(),
      keyId: p?.keyId ?? (presented ? parseKey(presented)?.id ?? null : null),
      tenant: p?.tenant ?? null,
      action: actionOf(request.method, request.routeOptions.url ?? request.url.split('?')[0]!),
      target: target === null ? null : target.slice(0, 300),
      outcome: status < 400 ? 'ok' : OUTCOMES[status] ?? 'failed',
      status,
      ip: request.ip,
    }).catch((err: unknown) => request.log.error({ err }, 'could not write the audit log'));
  });
}
