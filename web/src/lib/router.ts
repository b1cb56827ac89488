// Hash routing (#/models/mnist-cnn): the server serves one index.html at /, and a reload or a shared
// link lands on the same page without server-side routes.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** the first path segment: 'models', 'playground', 'metrics', 'training', 'keys' */
  readonly page: string;
  /** the decoded segments after it */
  readonly params: readonly string[];
}

/** A segment as typed; a malformed escape (#/models/%E0, a hand-edited link) is kept as it is
 *  instead of throwing, which would blank the whole app. */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((s) => s !== '').map(decodeSegment);
  return { page: parts[0] ?? 'models', params: parts.slice(1) };
}

export const href = (...segments: (string | number)[]): string => `#/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;

export function navigate(...segments: (string | number)[]): void {
  location.hash = href(...segments);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
