// The seam for API keys, scopes and tenants (a later issue). Every route declares the scope it needs
// in its route config; the server asks the Authorizer before the handler runs. Until keys exist,
// OpenAuthorizer lets everything through — which is why the server binds to loopback by default.
import type { IncomingHttpHeaders } from 'node:http';

export type Scope = 'public' | 'infer' | 'read' | 'train' | 'admin' | 'metrics';

export interface AccessRequest {
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  readonly scope: Scope;
  /** the model a route touches, when it touches one */
  readonly model?: string;
}

export interface Authorizer {
  /** Rejects with a FerryError (UNAUTHENTICATED, PERMISSION_DENIED, or NOT_FOUND for a foreign model) to refuse. */
  check(req: AccessRequest): Promise<void>;
}

export class OpenAuthorizer implements Authorizer {
  check(): Promise<void> {
    return Promise.resolve();
  }
}
