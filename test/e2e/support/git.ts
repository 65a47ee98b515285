import { execFileSync } from 'node:child_process';

/**
 * Runs git in `cwd` as the tests' committer and answers its output, trimmed. What git reports on
 * stderr (a push does) stays out of the test's output.
 */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Kiln Test',
      GIT_AUTHOR_EMAIL: 'test@kiln.invalid',
      GIT_COMMITTER_NAME: 'Kiln Test',
      GIT_COMMITTER_EMAIL: 'test@kiln.invalid',
    },
  }).trim();
}
