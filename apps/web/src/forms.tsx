/** The pieces every form and dialog of the app is made of. */
import { useEffect, useId, useRef, useState, type ReactNode, type RefObject } from 'react';
import { ErrorNote } from './state-badge';

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A ref for a `<dialog>`, which shows as a modal while the component is mounted. When it goes,
 * focus goes back to what had it before (the button that opened it), as a native modal would.
 */
export function useModal(): RefObject<HTMLDialogElement | null> {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    if (dialog !== null && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return ref;
}

/**
 * A control under its label, which names it by `id`: a label wrapped around an input or a select
 * would put the control's value into its accessible name. The hint, if any, is `<id>-hint`.
 */
export function Field(props: {
  id: string;
  label: string;
  hint?: ReactNode;
  children: ReactNode;
}): ReactNode {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint === undefined ? null : (
        <small id={`${props.id}-hint`} className="muted">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** "Copy" beside a value; "Copied" once the clipboard took it, or why it did not. */
export function CopyButton(props: {
  value: string;
  label?: string;
  /** What is copied, for a short "Copy" whose name must say it (`commit SHA`). */
  what?: string;
}): ReactNode {
  const [outcome, setOutcome] = useState<'copied' | 'refused'>();
  const label = props.label ?? 'Copy';
  const copy = (): void => {
    navigator.clipboard.writeText(props.value).then(
      () => setOutcome('copied'),
      () => setOutcome('refused'),
    );
  };
  return (
    <button
      type="button"
      className="copy"
      onClick={copy}
      {...(props.what === undefined ? {} : { 'aria-label': `Copy ${props.what}` })}
      data-copied={outcome}
      title={
        outcome === 'refused'
          ? 'The browser refused the clipboard: select and copy'
          : props.what === undefined
            ? label
            : `Copy ${props.what}: ${props.value}`
      }
    >
      {outcome === 'copied' ? 'Copied' : label}
    </button>
  );
}

/** `busy`, `error` and `run(call, then)`: one write at a time, its refusal in words. */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  setError: (error: string | undefined) => void;
  run: <T>(call: () => Promise<T>, then?: (answer: T) => void) => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = <T,>(call: () => Promise<T>, then?: (answer: T) => void): void => {
    setBusy(true);
    setError(undefined);
    call().then(
      (answer) => {
        setBusy(false);
        then?.(answer);
      },
      (e: unknown) => {
        setBusy(false);
        setError(messageOf(e));
      },
    );
  };
  return { busy, error, setError, run };
}

/** A dialog form's buttons: its action (`label…` while busy) and Back. */
export function DialogActions(props: {
  label: string;
  busy: boolean;
  disabled?: boolean;
  danger?: boolean;
  onBack: () => void;
}): ReactNode {
  return (
    <div className="actions">
      <button
        type="submit"
        className={props.danger === true ? 'danger' : 'primary'}
        disabled={props.busy || props.disabled === true}
      >
        {props.busy ? `${props.label}…` : props.label}
      </button>
      <button type="button" disabled={props.busy} onClick={props.onBack}>
        Back
      </button>
    </div>
  );
}

/** Asks before `call`; its refusal stays in the dialog in the server's words. */
export function ConfirmDialog<T>(props: {
  title: string;
  text: string;
  label: string;
  danger?: boolean;
  call: () => Promise<T>;
  onClose: () => void;
  onDone: (answer: T) => void;
}): ReactNode {
  const ref = useModal();
  const titleId = useId();
  const { busy, error, run } = useAction();
  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) props.onClose();
      }}
    >
      <form
        onSubmit={(event) => {
          event.preventDefault();
          run(props.call, props.onDone);
        }}
      >
        <h2 id={titleId}>{props.title}</h2>
        <p className="muted">{props.text}</p>
        <ErrorNote error={error} />
        <DialogActions
          label={props.label}
          busy={busy}
          {...(props.danger === true ? { danger: true } : {})}
          onBack={props.onClose}
        />
      </form>
    </dialog>
  );
}
