/** An administrator's dialogs on the environments board: add or edit an environment, delete one. */
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, type Environment } from './api';
import { DialogActions, Field, messageOf, useModal } from './forms';
import { ErrorNote } from './state-badge';

/** What the server takes when a new environment names no timeout: a day. */
const DEFAULT_APPROVAL_TIMEOUT_MINUTES = 1440;

/** `main, release/*` as the globs it names; blank: none, which the server reads as any branch. */
function branchGlobs(text: string): string[] {
  return text
    .split(',')
    .map((glob) => glob.trim())
    .filter((glob) => glob !== '');
}

/**
 * Adds an environment (`environment` unset) or changes one's policy. Every field is sent, so the
 * environment ends as the form shows it; the server's refusal (a cycle, a bad glob) stays in the
 * dialog in its own words.
 */
export function EnvironmentDialog(props: {
  repositoryId: string;
  /** The environment to edit; unset: a new one. */
  environment?: Environment;
  /** The repository's environments in chain order: what "After" offers. */
  environments: readonly Environment[];
  onClose: () => void;
  onSaved: (environment: Environment) => void;
}): ReactNode {
  const ref = useModal();
  const titleId = useId();
  const formId = useId();
  const editing = props.environment;
  const [name, setName] = useState('');
  const [after, setAfter] = useState(editing?.previous ?? '');
  const [approvals, setApprovals] = useState(String(editing?.requiredApprovals ?? 0));
  const [branches, setBranches] = useState(editing?.allowedBranches?.join(', ') ?? '');
  const [timeoutMinutes, setTimeoutMinutes] = useState(
    String(editing?.approvalTimeoutMinutes ?? DEFAULT_APPROVAL_TIMEOUT_MINUTES),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const target = editing?.name ?? name.trim();
  const others = props.environments.filter((e) => e.name !== editing?.name);

  const save = (event: FormEvent): void => {
    event.preventDefault();
    // A PUT to a name in use would quietly change that environment instead of adding one.
    if (editing === undefined && props.environments.some((e) => e.name === target)) {
      setError(`${target} exists already: edit it instead`);
      return;
    }
    const globs = branchGlobs(branches);
    setBusy(true);
    setError(undefined);
    api
      .saveEnvironment(props.repositoryId, target, {
        previous: after === '' ? null : after,
        requiredApprovals: Number(approvals),
        allowedBranches: globs.length === 0 ? null : globs,
        approvalTimeoutMinutes: Number(timeoutMinutes),
      })
      .then(
        (saved) => {
          setBusy(false);
          props.onSaved(saved);
        },
        (e: unknown) => {
          setBusy(false);
          setError(messageOf(e));
        },
      );
  };

  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby={titleId}
      onCancel={(event) => {
        // Escape: closed by React, not behind its back.
        event.preventDefault();
        if (!busy) props.onClose();
      }}
    >
      <form onSubmit={save}>
        <h2 id={titleId}>{editing === undefined ? 'Add environment' : `Edit ${editing.name}`}</h2>
        {editing === undefined ? (
          <Field id={`${formId}-name`} label="Name">
            <input
              id={`${formId}-name`}
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              maxLength={63}
              placeholder="staging"
              autoComplete="off"
            />
          </Field>
        ) : null}
        <Field id={`${formId}-after`} label="After">
          <select id={`${formId}-after`} value={after} onChange={(e) => setAfter(e.target.value)}>
            <option value="">none: first in the chain</option>
            {others.map((e) => (
              <option key={e.id} value={e.name}>
                {e.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id={`${formId}-approvals`} label="Required approvals">
          <input
            id={`${formId}-approvals`}
            type="number"
            value={approvals}
            onChange={(e) => setApprovals(e.target.value)}
            required
            min={0}
            max={10}
            step={1}
          />
        </Field>
        <Field
          id={`${formId}-branches`}
          label="Allowed branches"
          hint="Branch globs, comma-separated; empty: any branch."
        >
          <input
            id={`${formId}-branches`}
            value={branches}
            onChange={(e) => setBranches(e.target.value)}
            placeholder="main, release/*"
            aria-describedby={`${formId}-branches-hint`}
            autoComplete="off"
          />
        </Field>
        <Field id={`${formId}-timeout`} label="Approval timeout (minutes)">
          <input
            id={`${formId}-timeout`}
            type="number"
            value={timeoutMinutes}
            onChange={(e) => setTimeoutMinutes(e.target.value)}
            required
            min={1}
            max={43_200}
            step={1}
          />
        </Field>
        <ErrorNote error={error} />
        <DialogActions label="Save" busy={busy} disabled={target === ''} onBack={props.onClose} />
      </form>
    </dialog>
  );
}

/**
 * Asks before an environment and its history go; the server's refusal (another environment
 * follows it, a promotion to it has not ended) stays in the dialog.
 */
export function DeleteEnvironmentDialog(props: {
  environment: Environment;
  onClose: () => void;
  onDeleted: () => void;
}): ReactNode {
  const ref = useModal();
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const { repositoryId, name } = props.environment;

  const remove = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    api.deleteEnvironment(repositoryId, name).then(
      () => {
        setBusy(false);
        props.onDeleted();
      },
      (e: unknown) => {
        setBusy(false);
        setError(messageOf(e));
      },
    );
  };

  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby={titleId}
      data-delete-environment={name}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) props.onClose();
      }}
    >
      <form onSubmit={remove}>
        <h2 id={titleId}>Delete {name}?</h2>
        <p className="muted">
          Its history of promotions goes with it; nothing deployed there is undone.
        </p>
        <ErrorNote error={error} />
        <DialogActions label="Delete" danger busy={busy} onBack={props.onClose} />
      </form>
    </dialog>
  );
}
