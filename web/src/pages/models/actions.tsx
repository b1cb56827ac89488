// The model page's changes (move an alias, load, unload, delete) run through one place: at most one at
// a time, those that change what is served or delete data after a confirmation, and each failure shown
// with the server's message in the section that asked for it.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Confirm } from '../../components/confirm';

/** The page's sections, so that an error appears next to the button that caused it. */
export type Where = 'model' | 'aliases' | 'versions';

export interface Ask {
  readonly where: Where;
  readonly title: string;
  readonly body: ComponentChildren;
  readonly confirmLabel: string;
  readonly danger?: boolean;
  run(): Promise<unknown>;
}

export interface Actions {
  /** what is running now, if anything (buttons disable themselves meanwhile) */
  readonly busy: Where | null;
  error(where: Where): string | undefined;
  /** runs at once */
  run(where: Where, fn: () => Promise<unknown>): void;
  /** runs after the person confirms */
  ask(a: Ask): void;
  /** forgets a section's error (its form changed) */
  clear(where: Where): void;
}

/** The actions of one page, and the dialog they confirm with (render `dialog` once). */
export function useActions(after: () => void): { actions: Actions; dialog: ComponentChildren } {
  const [busy, setBusy] = useState<Where | null>(null);
  const [errors, setErrors] = useState<Partial<Record<Where, string>>>({});
  const [pending, setPending] = useState<Ask | null>(null);

  const run = (where: Where, fn: () => Promise<unknown>) => {
    if (busy) return;
    setBusy(where);
    setErrors((e) => ({ ...e, [where]: undefined }));
    fn().then(
      () => after(),
      (err: Error) => {
        setErrors((e) => ({ ...e, [where]: err.message }));
        after();
      },
    ).finally(() => setBusy(null));
  };

  const actions: Actions = {
    busy,
    error: (where) => errors[where],
    run,
    ask: (a) => {
      setErrors((e) => ({ ...e, [a.where]: undefined }));
      setPending(a);
    },
    clear: (where) => setErrors((e) => ({ ...e, [where]: undefined })),
  };

  const dialog = (
    <Confirm
      open={pending !== null}
      title={pending?.title ?? ''}
      confirmLabel={pending?.confirmLabel ?? 'OK'}
      danger={pending?.danger}
      onCancel={() => setPending(null)}
      onConfirm={() => {
        const p = pending;
        setPending(null);
        if (p) run(p.where, p.run);
      }}
    >
      {pending?.body}
    </Confirm>
  );
  return { actions, dialog };
}
