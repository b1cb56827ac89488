// The login form: the key is checked against the server, then kept for this tab only.
import { useState } from 'preact/hooks';

export function Login({ error, onKey }: { error?: string; onKey(key: string): void }) {
  const [key, setKey] = useState('');
  return (
    <main class="container login">
      <article>
        <header><h1>Ferry</h1></header>
        <form onSubmit={(e) => { e.preventDefault(); if (key.trim() !== '') onKey(key.trim()); }}>
          <label>
            API key
            <input name="key" type="password" autocomplete="off" required autofocus value={key}
              onInput={(e) => setKey((e.target as HTMLInputElement).value)}
              aria-invalid={error ? 'true' : undefined} aria-describedby="login-help" />
          </label>
          <small id="login-help">
            {error ?? 'The admin key printed when the server first started, or one from `ferry keys create`. It is kept in this tab only and forgotten when the tab closes.'}
          </small>
          <button type="submit">Log in</button>
        </form>
      </article>
    </main>
  );
}
