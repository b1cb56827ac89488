// A confirmation for actions that change what is served or delete data (move an alias, delete a
// version): a native <dialog>, so focus, Escape and the backdrop behave as the browser's own.
import { useEffect, useRef } from 'preact/hooks';
import type { ComponentChildren } from 'preact';

export interface ConfirmProps {
  readonly open: boolean;
  readonly title: string;
  readonly children: ComponentChildren;
  readonly confirmLabel: string;
  readonly danger?: boolean;
  onConfirm(): void;
  onCancel(): void;
}

export function Confirm({ open, title, children, confirmLabel, danger, onConfirm, onCancel }: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onCancel} aria-labelledby="confirm-title">
      <article>
        <h3 id="confirm-title">{title}</h3>
        <div>{children}</div>
        <footer>
          <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
          <button type="button" class={danger ? 'danger' : ''} onClick={onConfirm} autofocus>{confirmLabel}</button>
        </footer>
      </article>
    </dialog>
  );
}
