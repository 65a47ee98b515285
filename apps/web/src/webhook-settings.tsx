/** What to enter on the forge so that its pushes reach Kiln: the URL, the secret, the events. */
import type { ReactNode } from 'react';
import type { Forge, Repository } from './api';
import { CopyButton } from './forms';

/** The address a repository's webhooks go to; the repository's own path names it unambiguously. */
export function webhookUrl(repository: Pick<Repository, 'id' | 'forge'>): string {
  return `${window.location.origin}/hooks/${repository.forge}/${repository.id}`;
}

/** Where each forge keeps its webhooks and which of its words mean what Kiln needs. */
const INSTRUCTIONS: Record<Forge, { where: string; steps: string[] }> = {
  github: {
    where: 'Settings → Webhooks → Add webhook',
    steps: [
      'Payload URL: the URL above; Content type: application/json; Secret: the secret above.',
      'Which events: "Let me select individual events", then Pushes and Pull requests.',
    ],
  },
  gitlab: {
    where: 'Settings → Webhooks → Add new webhook',
    steps: [
      'URL: the URL above; Secret token: the secret above.',
      'Trigger: Push events, Tag push events and Merge request events.',
    ],
  },
  gitea: {
    where: 'Settings → Webhooks → Add webhook → Gitea',
    steps: [
      'Target URL: the URL above; POST content type: application/json; Secret: the secret above.',
      'Trigger on: Custom events, then Push and Pull Request.',
    ],
  },
  forgejo: {
    where: 'Settings → Webhooks → Add webhook → Forgejo',
    steps: [
      'Target URL: the URL above; POST content type: application/json; Secret: the secret above.',
      'Trigger on: Custom events, then Push and Pull Request.',
    ],
  },
  bitbucket: {
    where: 'Repository settings → Webhooks → Add webhook',
    steps: [
      'URL: the URL above; Secret: the secret above.',
      'Triggers: Repository push, and Pull request opened and source branch updated.',
    ],
  },
};

/**
 * The webhook URL, and the secret when it was just made (it is shown this once), each with a copy
 * button, then the forge's own steps.
 */
export function WebhookSettings(props: {
  repository: Pick<Repository, 'id' | 'forge'>;
  secret?: string;
}): ReactNode {
  const url = webhookUrl(props.repository);
  const { where, steps } = INSTRUCTIONS[props.repository.forge];
  return (
    <div className="webhook-settings">
      <dl className="copyable">
        <dt>Webhook URL</dt>
        <dd>
          <code data-webhook-url>{url}</code>
          <CopyButton value={url} label="Copy URL" />
        </dd>
        {props.secret === undefined ? null : (
          <>
            <dt>Secret</dt>
            <dd>
              <code data-webhook-secret>{props.secret}</code>
              <CopyButton value={props.secret} label="Copy secret" />
            </dd>
          </>
        )}
      </dl>
      {props.secret === undefined ? null : (
        <p className="warning">The secret is shown this once: copy it now.</p>
      )}
      <p>
        On the forge: <strong>{where}</strong>
      </p>
      <ol className="forge-steps">
        {steps.map((step) => (
          <li key={step}>{step}</li>
        ))}
      </ol>
    </div>
  );
}
