import { describe, expect, it } from 'vitest';
import { gitEnv } from './git-env';

describe('gitEnv', () => {
  it("keeps what git needs and drops what would break or redirect it, the host's configuration too", () => {
    const env = gitEnv({
      PATH: '/usr/bin',
      HOME: '/home/kiln',
      HTTPS_PROXY: 'http://proxy:3128',
      EDITOR: 'vi',
      PAGER: 'less',
      GIT_DIR: '/elsewhere',
      KILN_API_TOKEN: 'secret',
    });
    expect(env).toEqual({
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      PATH: '/usr/bin',
      HOME: '/home/kiln',
      HTTPS_PROXY: 'http://proxy:3128',
    });
  });
});
