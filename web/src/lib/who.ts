// Who the session's key belongs to (GET /api/session), so pages can hide what the key may not do.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export interface Who {
  /** undefined: the server lets anonymous callers in (tests, embedding) */
  readonly tenant?: string;
  readonly keyId?: string;
  readonly scopes: readonly string[];
  readonly anonymous: boolean;
}

export const WhoContext = createContext<Who>({ scopes: [], anonymous: true });

export function useWho(): Who {
  return useContext(WhoContext);
}

/** Mirrors the server's grants: 'read' comes with every scope but metrics; anonymous means an open server. */
export function can(who: Who, scope: 'read' | 'infer' | 'train' | 'admin' | 'metrics'): boolean {
  if (who.anonymous) return true;
  if (scope === 'read') return who.scopes.some((s) => s !== 'metrics');
  return who.scopes.includes(scope);
}
