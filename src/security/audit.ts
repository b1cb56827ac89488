// The audit log: one row per management action and per refused management request. Append-only:
// there is no update or delete anywhere in the code, and the SQLite table refuses both (triggers).
export type AuditOutcome = 'ok' | 'failed' | 'unauthenticated' | 'denied' | 'not_found' | 'throttled';

export interface AuditEntry {
  /** ISO-8601 */
  readonly time: string;
  readonly keyId: string | null;
  readonly tenant: string | null;
  /** e.g. key.create, model.push (ACTIONS below) */
  readonly action: string;
  /** what it acted on, e.g. "mnist/versions/2" */
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  /** the HTTP status answered */
  readonly status: number;
  readonly ip: string;
}

export interface AuditQuery {
  readonly from?: string;
  readonly to?: string;
  readonly tenant?: string;
  readonly action?: string;
  readonly limit?: number;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** oldest first, at most `limit` (default 1000) rows */
  query(q: AuditQuery): Promise<AuditEntry[]>;
}

/** Management routes by "METHOD /route/:pattern" and the action name they are logged under. Every
 *  admin- or train-scope route is a management route; test/security/authz-matrix.test.ts fails when
 *  one that changes something is missing here. */
export const ACTIONS: Readonly<Record<string, string>> = {
  'POST /api/keys': 'key.create',
  'DELETE /api/keys/:id': 'key.revoke',
  'POST /api/models/:name/versions': 'model.push',
  'DELETE /api/models/:name/versions/:version': 'model.delete_version',
  'DELETE /api/models/:name': 'model.delete',
  'PUT /api/models/:name/aliases/:alias': 'alias.move',
  'DELETE /api/models/:name/aliases/:alias': 'alias.delete',
  'POST /api/models/:name/shares': 'model.share',
  'DELETE /api/models/:name/shares/:tenant': 'model.unshare',
  'POST /api/models/:name/versions/:version/optimize': 'model.optimize',
  'POST /api/training-jobs': 'training.create',
  'DELETE /api/training-jobs/:id': 'training.cancel',
  'POST /v2/repository/models/:name/load': 'model.load',
  'POST /v2/repository/models/:name/unload': 'model.unload',
};

/** The action a request is logged under: its entry above, or "read <route>" for the reads of
 *  management routes (logged only when refused). */
export const actionOf = (method: string, route: string): string => ACTIONS[`${method} ${route}`] ?? `${method === 'GET' ? 'read' : method.toLowerCase()} ${route}`;
