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

/**
 * What git sees of `env`: the variables it needs, never a prompt (nobody would answer), and no
 * configuration of the host's (system or user): Kiln's git runs as root on repositories anyone
 * can push, and a host's hooks path, filters (git-lfs installs one), fsmonitor or credential
 * helpers would act on them. Kiln passes what its commands need on their command lines.
 */
export function gitEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const picked: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  for (const name of INHERITED) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/**
 * What simple-git must be told to run with {@link gitEnv}: it refuses a `GIT_CONFIG_GLOBAL` in
 * the environment it is given (one could name a file with hooks of its own), where gitEnv's is
 * `/dev/null`.
 */
export const GIT_ENV_OPTIONS = { unsafe: { allowUnsafeConfigPaths: true } } as const;
