import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  configPath,
  DEFAULT_SERVER,
  readStoredConfig,
  resolveConfig,
  writeStoredConfig,
} from './config';
import { UsageError } from './errors';

describe(resolveConfig.name, () => {
  const stored = { server: 'https://kiln.example.com', token: 'stored-token' };

  it('takes flags over the environment over the stored login over the default', () => {
    expect(resolveConfig({ flags: {}, env: {}, stored: undefined })).toEqual({
      server: DEFAULT_SERVER,
      token: undefined,
      tokenSource: 'none',
    });
    expect(resolveConfig({ flags: {}, env: {}, stored })).toEqual({
      server: 'https://kiln.example.com',
      token: 'stored-token',
      tokenSource: 'stored',
    });
    expect(resolveConfig({ flags: {}, env: { KILN_TOKEN: 'env-token' }, stored })).toMatchObject({
      token: 'env-token',
      tokenSource: 'env',
    });
    expect(
      resolveConfig({
        flags: { server: 'http://flag:1/', token: 'flag-token' },
        env: { KILN_SERVER: 'http://env:2', KILN_TOKEN: 'env-token' },
        stored,
      }),
    ).toEqual({ server: 'http://flag:1', token: 'flag-token', tokenSource: 'flag' });
  });

  it('treats empty variables as unset', () => {
    expect(
      resolveConfig({ flags: {}, env: { KILN_SERVER: '', KILN_TOKEN: '' }, stored }),
    ).toMatchObject({ server: stored.server, tokenSource: 'stored' });
  });

  it('never sends the stored token to another server', () => {
    expect(
      resolveConfig({ flags: {}, env: { KILN_SERVER: 'https://evil.example.com' }, stored }),
    ).toEqual({ server: 'https://evil.example.com', token: undefined, tokenSource: 'none' });
    // The same server spelled with a trailing slash is the same server.
    expect(
      resolveConfig({ flags: { server: 'https://kiln.example.com/' }, env: {}, stored }),
    ).toMatchObject({ token: 'stored-token' });
  });

  it('refuses a server that is not an http(s) URL', () => {
    expect(() => resolveConfig({ flags: { server: 'kiln.example.com' }, env: {}, stored })).toThrow(
      UsageError,
    );
    expect(() => resolveConfig({ flags: { server: 'ftp://x' }, env: {}, stored })).toThrow(
      /http\(s\) URL/,
    );
  });
});

describe('the stored login', () => {
  const dirs: string[] = [];
  const temp = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-config-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('lives under XDG_CONFIG_HOME, or ~/.config', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x' }, '/home/u')).toBe('/x/kiln/config.json');
    expect(configPath({}, '/home/u')).toBe('/home/u/.config/kiln/config.json');
    expect(configPath({ XDG_CONFIG_HOME: '' }, '/home/u')).toBe('/home/u/.config/kiln/config.json');
  });

  it('is written readable by its owner only, and read back', () => {
    const path = join(temp(), 'kiln', 'config.json');
    expect(readStoredConfig(path)).toBeUndefined();
    writeStoredConfig(path, { server: 'http://a', token: 't1' });
    // Replacing a file that was too open makes it private too.
    writeFileSync(path, '{}', { mode: 0o644 });
    writeStoredConfig(path, { server: 'http://b', token: 't2' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(readStoredConfig(path)).toEqual({ server: 'http://b', token: 't2' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ server: 'http://b', token: 't2' });
  });

  it('says what is wrong with a broken file', () => {
    const path = join(temp(), 'config.json');
    writeFileSync(path, 'not json');
    expect(() => readStoredConfig(path)).toThrow(/not valid JSON/);
    writeFileSync(path, '{"server":"http://a"}');
    expect(() => readStoredConfig(path)).toThrow(/lacks "server" or "token"/);
  });
});
