/** Commits, branches and ids as the UI shows them: linked to the forge, with a copy button. */
import type { ReactNode } from 'react';
import { api } from './api';
import { shortSha } from './format';
import { forgeLinks, type ForgeLinks } from './forge-links';
import { CopyButton } from './forms';
import { usePoll } from './use-poll';

/** The forge links of a repository, once it has loaded (its name and clone URL rarely change). */
export function useForgeLinks(repositoryId: string): ForgeLinks | undefined {
  const { data } = usePoll(
    `repository:${repositoryId}`,
    () => api.repository(repositoryId),
    60_000,
  );
  return data === undefined ? undefined : forgeLinks(data);
}

/** A commit's short SHA, linked to the commit on the forge when known, and a copy button. */
export function Sha(props: { sha: string; links: ForgeLinks | undefined }): ReactNode {
  const code = <code className="sha">{shortSha(props.sha)}</code>;
  return (
    <span className="sha-copy">
      {props.links === undefined ? (
        <span title={props.sha}>{code}</span>
      ) : (
        <a href={props.links.commit(props.sha)} title={`${props.sha} on the forge`}>
          {code}
        </a>
      )}
      <CopyButton value={props.sha} what="commit SHA" />
    </span>
  );
}

/** A branch (or tag, or bare ref) name, linked to it on the forge when known. */
export function RefName(props: {
  run: { branch?: string; tag?: string; ref: string };
  links: ForgeLinks | undefined;
}): ReactNode {
  const { run, links } = props;
  const name = run.branch ?? run.tag ?? run.ref;
  const href =
    links === undefined
      ? undefined
      : run.branch !== undefined
        ? links.branch(run.branch)
        : run.tag !== undefined
          ? links.tag(run.tag)
          : undefined;
  return href === undefined ? <>{name}</> : <a href={href}>{name}</a>;
}
