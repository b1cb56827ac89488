// The dashboard's frame: the login gate, the navigation, and the page the hash names.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, UNAUTHORIZED_EVENT } from './lib/api';
import { href, useRoute } from './lib/router';
import { session } from './lib/session';
import { WhoContext, type Who } from './lib/who';
import { Login } from './pages/login';
import { ModelsPage } from './pages/models';
import { PlaygroundPage } from './pages/playground';
import { MetricsPage } from './pages/metrics';
import { TrainingPage } from './pages/training';
import { KeysPage } from './pages/keys';

const PAGES = [
  { page: 'models', label: 'Models' },
  { page: 'playground', label: 'Playground' },
  { page: 'metrics', label: 'Metrics' },
  { page: 'training', label: 'Training' },
  { page: 'keys', label: 'Keys & usage' },
] as const;

type Gate = { state: 'checking' } | { state: 'login'; error?: string } | { state: 'in'; who: Who };

async function whoAmI(): Promise<Who> {
  const s = await api<{ tenant?: string; keyId?: string; scopes?: string[]; anonymous: boolean }>('/api/session');
  return { tenant: s.tenant, keyId: s.keyId, scopes: s.scopes ?? [], anonymous: s.anonymous };
}

export function App() {
  const [gate, setGate] = useState<Gate>({ state: 'checking' });
  const route = useRoute();

  const check = () =>
    whoAmI().then(
      (who) => setGate({ state: 'in', who }),
      (err: Error) => {
        if (err instanceof ApiError && err.status === 401) {
          const hadKey = session.key() !== null;
          session.clear();
          setGate({ state: 'login', ...(hadKey ? { error: 'That key was not accepted: it is unknown, revoked or expired.' } : {}) });
        } else setGate({ state: 'login', error: err.message });
      },
    );

  useEffect(() => {
    check();
    // a key revoked or expired mid-session is forgotten too, not only the logged-in state
    const out = () => setGate((g) => {
      if (g.state !== 'in' || g.who.anonymous) return g;
      session.clear();
      return { state: 'login', error: 'The server no longer accepts this key; log in again.' };
    });
    addEventListener(UNAUTHORIZED_EVENT, out);
    return () => removeEventListener(UNAUTHORIZED_EVENT, out);
  }, []);

  if (gate.state === 'checking') return <main class="container"><p aria-busy="true">Connecting to Ferry…</p></main>;
  if (gate.state === 'login') {
    return <Login error={gate.error} onKey={(key) => { session.setKey(key); setGate({ state: 'checking' }); check(); }} />;
  }
  const logout = () => {
    session.clear();
    setGate({ state: 'login' });
  };

  return (
    <WhoContext.Provider value={gate.who}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="container">
        <nav aria-label="Main">
          <ul>
            <li><a href={href('models')} class="brand"><strong>Ferry</strong></a></li>
          </ul>
          <ul class="nav-pages">
            {PAGES.map((p) => (
              <li key={p.page}>
                <a href={href(p.page)} aria-current={route.page === p.page ? 'page' : undefined}>{p.label}</a>
              </li>
            ))}
            <li>
              <span class="who" title="the key this tab uses">{gate.who.anonymous ? 'open server' : `${gate.who.tenant} · ${gate.who.keyId}`}</span>
              {!gate.who.anonymous && <button type="button" class="secondary outline small" onClick={logout}>Log out</button>}
            </li>
          </ul>
        </nav>
      </header>
      <main class="container" id="main" tabIndex={-1}>
        <Page page={route.page} params={route.params} />
      </main>
    </WhoContext.Provider>
  );
}

function Page({ page, params }: { page: string; params: readonly string[] }) {
  switch (page) {
    case 'models': return <ModelsPage params={params} />;
    case 'playground': return <PlaygroundPage params={params} />;
    case 'metrics': return <MetricsPage params={params} />;
    case 'training': return <TrainingPage params={params} />;
    case 'keys': return <KeysPage params={params} />;
    default: return <p role="alert">There is no page “{page}”. <a href={href('models')}>Go to the models</a>.</p>;
  }
}
