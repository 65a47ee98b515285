import { describe, expect, it } from 'vitest';
import { cookie } from './auth.guard';

describe(cookie.name, () => {
  it('finds one cookie among several, decoded', () => {
    expect(cookie('a=1; kiln_session=abc%3D; b=2', 'kiln_session')).toBe('abc=');
  });

  it('answers undefined for a missing cookie, a prefix of another or a malformed value', () => {
    expect(cookie(undefined, 'kiln_session')).toBeUndefined();
    expect(cookie('kiln_session_old=1', 'kiln_session')).toBeUndefined();
    expect(cookie('kiln_session=%E0%A4%A', 'kiln_session')).toBeUndefined();
  });
});
