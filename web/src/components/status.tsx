// The three states every page has besides its content: waiting, empty, and failed.
import type { ComponentChildren } from 'preact';

export function ErrorBox({ error, onRetry }: { error: string | undefined; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      <span>{error}</span>
      {onRetry && <button class="secondary outline" type="button" onClick={onRetry}>Retry</button>}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p aria-busy="true">Loading {what}…</p>;
}
