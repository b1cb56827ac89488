// The admin API under /api: models, versions, uploads and aliases. Errors use the envelope
// {"error": {"code", "message"}} with a stable code a program can branch on.
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import { checkAliasName, checkModelName, parseVersionRef } from '../../registry/names.js';
import type { VersionRecord } from '../../registry/records.js';
import { DEFAULT_ALIAS } from '../../registry/registry.js';
import { sendError, type ServerDeps } from '../app.js';
import { isTarUpload, packOptions, packTar, readBody } from './hf-upload.js';
import { visibleModels } from '../auth-hooks.js';
import { ownerFor } from '../../security/tenancy.js';
import { auditRoutes } from './audit-routes.js';
import { keyRoutes } from './key-routes.js';
import { shareRoutes } from './share-routes.js';
import { trainingRoutes } from './training-routes.js';
import { optimizeRoutes } from './optimize-routes.js';
import { recipeRoutes } from './recipe-routes.js';
import { usageRoutes } from './usage-routes.js';
import { sessionRoute } from './session-route.js';

interface NameParams { name: string }
interface VersionParams { name: string; version: string }
interface AliasParams { name: string; alias: string }

const envelope = (e: FerryError) => ({ error: { code: e.code, message: e.message } });

/** What the API shows of a version: everything but where the file sits in the store. */
export function versionView(v: VersionRecord) {
  const { artifactKey: _key, ...rest } = v;
  return rest;
}

function versionNumber(ref: string): number {
  const v = parseVersionRef(ref);
  if (typeof v !== 'number') throw new FerryError('INVALID_ARGUMENT', `"${ref}" is not a version number; aliases are managed under /aliases`);
  return v;
}

export async function adminRoutes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  const { registry, pool } = deps;
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, envelope));
  app.setNotFoundHandler((request, reply) => reply.code(404).send(envelope(new FerryError('NOT_FOUND', `no admin route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`))));

  const read = { config: { scope: 'read' as const } };
  const admin = { config: { scope: 'admin' as const } };
  if (deps.jobs) trainingRoutes(app, deps.jobs, { registry, owners: deps.security.jobOwners });
  recipeRoutes(app);
  keyRoutes(app, deps.security);
  auditRoutes(app, deps.security);
  shareRoutes(app, registry);
  optimizeRoutes(app, deps);
  usageRoutes(app, deps.security);
  sessionRoute(app);

  // ?include=served adds the version a plain model name resolves to (the "prod" alias, else the
  // newest), so a client that needs each model's task or signature (the dashboard's playground
  // picker) asks once instead of once per model.
  app.get<{ Querystring: { include?: string } }>('/models', read, async (request) => {
    const include = request.query.include;
    if (include !== undefined && include !== 'served') throw new FerryError('INVALID_ARGUMENT', `"include" may only be "served" (each model's default version), got "${include.slice(0, 50)}"`);
    const models = await visibleModels(registry.meta, request.principal, await registry.list());
    if (include === undefined) return { models };
    return { models: await Promise.all(models.map(async (m) => ({ ...m, served: versionView(await registry.resolve(m.name)) }))) };
  });
  app.get<{ Params: NameParams }>('/models/:name', read, async (request) => {
    const m = await registry.model(request.params.name);
    const versions = (await registry.meta.listVersions(m.name)).map((v) => ({ ...versionView(v), loaded: pool.isLoaded(v.model, v.version) }));
    return { ...m, versions };
  });
  app.get<{ Params: VersionParams }>('/models/:name/versions/:version', read, async (request) => {
    const v = await registry.resolve(request.params.name, request.params.version);
    return { ...versionView(v), loaded: pool.isLoaded(v.model, v.version) };
  });

  // Uploads stream straight to the staging area whatever their content type (curl --data-binary sends
  // application/x-www-form-urlencoded), so they get their own scope with a pass-through parser. A tar of
  // a Hugging Face model folder (application/x-tar or application/gzip, with ?task=) is the exception:
  // it is read whole, within maxUploadBytes, and packed into one .onnx file first (see hf-upload.ts).
  app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    // A refused upload may leave part of its body unread on the socket, and a keep-alive connection in
    // that state holds up server.close() (and with it a SIGTERM drain) until the client gives up.
    upload.setErrorHandler((err, request, reply) => sendError(request, reply.header('connection', 'close'), err, envelope));
    upload.post<{ Params: NameParams; Querystring: { config?: string; description?: string; task?: string; truncation?: string } }>('/models/:name/versions', admin, async (request, reply) => {
      checkModelName(request.params.name);
      const tar = isTarUpload(request.headers['content-type']);
      // Without this, a tar sent as application/octet-stream would fail as "not an ONNX model".
      if (!tar && (request.query.task !== undefined || request.query.truncation !== undefined)) {
        throw new FerryError('INVALID_ARGUMENT', '"task" and "truncation" apply to a Hugging Face model folder sent as a tar; send it with Content-Type: application/x-tar, or leave them out for an .onnx file');
      }
      const hf = tar ? packOptions(request.query) : undefined;
      let config: unknown = {};
      if (request.query.config !== undefined) {
        try {
          config = JSON.parse(request.query.config);
        } catch {
          throw new FerryError('INVALID_ARGUMENT', 'query parameter "config" must be a JSON object, e.g. {"maxBatchSize": 32}');
        }
      }
      let source = request.body as Readable | undefined;
      if (!source) throw new FerryError('INVALID_ARGUMENT', 'send the .onnx file as the request body');
      if (hf) {
        const limit = deps.config.maxUploadBytes;
        source = Readable.from([packTar(await readBody(source, limit), hf, limit)]);
      }
      const metadata = { source: 'upload', ...(request.query.description ? { description: request.query.description } : {}) };
      const v = await registry.push(request.params.name, source, { config: config as object, metadata, owner: ownerFor(request.principal) });
      return reply.code(201).send(versionView(v));
    });
  });

  app.delete<{ Params: VersionParams }>('/models/:name/versions/:version', admin, async (request) => {
    const { name } = request.params;
    const version = versionNumber(request.params.version);
    const rec = await registry.deleteVersion(name, version);
    await pool.unload(name, version, 'deleted');
    await deps.generation?.unload(name, version);
    return { deleted: versionView(rec) };
  });
  app.delete<{ Params: NameParams }>('/models/:name', admin, async (request) => {
    const removed = await registry.deleteModel(request.params.name);
    await pool.unload(request.params.name, undefined, 'deleted');
    await deps.generation?.unload(request.params.name);
    return { deleted: removed.map(versionView) };
  });

  // Moving an alias loads the new version first, so requests that follow the alias never wait on a
  // cold load or fail during the switch; the old version keeps serving what it already admitted.
  app.put<{ Params: AliasParams; Body: { version?: unknown } }>('/models/:name/aliases/:alias', admin, async (request) => {
    const { name, alias } = request.params;
    // Checked before anything loads: a typo in the alias must not cost a model load.
    checkAliasName(alias);
    const raw = request.body?.version;
    if (!(typeof raw === 'number' || typeof raw === 'string')) throw new FerryError('INVALID_ARGUMENT', 'send {"version": N} with the version the alias should point at');
    const version = versionNumber(String(raw));
    const before = (await registry.model(name)).aliases[alias];
    const rec = await registry.resolve(name, String(version));
    await pool.acquire(rec);
    await registry.setAlias(name, alias, version);
    // Then the old version goes, once it has answered what it admitted, unless something still
    // points at it: another alias, or the default policy (unversioned requests).
    if (before !== undefined && before !== version) {
      const m = await registry.model(name);
      const stillUsed = Object.values(m.aliases).includes(before) || (m.aliases[DEFAULT_ALIAS] ?? m.latestVersion) === before;
      if (!stillUsed) await pool.unload(name, before, 'replaced');
    }
    return { model: name, alias, version, previous: before ?? null };
  });
  app.delete<{ Params: AliasParams }>('/models/:name/aliases/:alias', admin, async (request) => {
    await registry.deleteAlias(request.params.name, request.params.alias);
    return { model: request.params.name, alias: request.params.alias, deleted: true };
  });
}
