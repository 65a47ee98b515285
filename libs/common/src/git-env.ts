/**
 * The only variables of the environment git sees. Passing all of it would hand git a user's
 * PAGER or EDITOR (which simple-git refuses as unsafe: every command would fail) and any GIT_*
 * variable that redirects the repository.
 */
const INHERITED = [
  'PATH',
  'HOME',
  'TMPDIR',
  'SSH_AUTH_SOCK',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
];

/** What git sees of `env`: the variables it needs, and never a prompt (nobody would answer). */
export function gitEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const picked: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  for (const name of INHERITED) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}
