import { describe, expect, it } from 'vitest';
import { SecretBox } from '../secrets/secret-box';
import { TaskTokens } from './task-tokens';

describe(TaskTokens.name, () => {
  const box = new SecretBox(Buffer.alloc(32, 7));
  const tokens = new TaskTokens(box);

  it("derives a task's log token from the server key", () => {
    expect(tokens.logToken('t1')).toBe(box.mac('log-token', 't1'));
    expect(tokens.logToken('t1')).not.toBe(tokens.logToken('t2'));
    expect(new TaskTokens(new SecretBox(Buffer.alloc(32, 8))).logToken('t1')).not.toBe(
      tokens.logToken('t1'),
    );
  });

  it('accepts only the token of that very task', () => {
    expect(tokens.verify('t1', tokens.logToken('t1'))).toBe(true);
    expect(tokens.verify('t1', tokens.logToken('t2'))).toBe(false);
    expect(tokens.verify('t1', `${tokens.logToken('t1')}x`)).toBe(false);
    expect(tokens.verify('t1', '')).toBe(false);
    expect(tokens.verify('t1', undefined)).toBe(false);
  });

  it('derives a 16-character step nonce, distinct from the token', () => {
    const nonce = tokens.stepNonce('t1');
    expect(nonce).toBe(box.mac('step-nonce', 't1').slice(0, 16));
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(tokens.logToken('t1').startsWith(nonce)).toBe(false);
  });
});
