import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from './errors';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** What `kiln login` stores. */
export interface StoredConfig {
  server: string;
  token: string;
}

/** Where the configuration comes from, highest precedence first. */
export interface ConfigSources {
  flags: { server?: string; token?: string };
  env: NodeJS.ProcessEnv;
  stored: StoredConfig | undefined;
}

export interface ResolvedConfig {
  server: string;
  token: string | undefined;
  /** Where the token came from, for messages. */
  tokenSource: 'flag' | 'env' | 'stored' | 'none';
}

/** `$XDG_CONFIG_HOME/kiln/config.json`, `~/.config/kiln/config.json` by default. */
export function configPath(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const base =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : join(home, '.config');
  return join(base, 'kiln', 'config.json');
}

/**
 * Flags win over the environment, which wins over the stored login. The stored token is only
 * used for the server it was stored with: pointing `--server` elsewhere never sends it there.
 */
export function resolveConfig(sources: ConfigSources): ResolvedConfig {
  const { flags, env, stored } = sources;
  const server = normalizeServer(
    nonEmpty(flags.server) ?? nonEmpty(env.KILN_SERVER) ?? stored?.server ?? DEFAULT_SERVER,
  );
  const flagToken = nonEmpty(flags.token);
  if (flagToken !== undefined) return { server, token: flagToken, tokenSource: 'flag' };
  const envToken = nonEmpty(env.KILN_TOKEN);
  if (envToken !== undefined) return { server, token: envToken, tokenSource: 'env' };
  if (stored !== undefined && normalizeServer(stored.server) === server) {
    return { server, token: stored.token, tokenSource: 'stored' };
  }
  return { server, token: undefined, tokenSource: 'none' };
}

/** An http(s) URL without its trailing slashes; anything else is a usage error. */
export function normalizeServer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`the server must be an http(s) URL, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`the server must be an http(s) URL, got '${value}'`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** The stored login, if any; a file that is not ours to read is an error worth showing. */
export function readStoredConfig(path: string): StoredConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not valid JSON: fix or remove it, then \`kiln login\` again`);
  }
  const { server, token } = (parsed ?? {}) as Partial<Record<keyof StoredConfig, unknown>>;
  if (typeof server !== 'string' || typeof token !== 'string') {
    throw new UsageError(`${path} lacks "server" or "token": run \`kiln login\` again`);
  }
  return { server, token };
}

/**
 * Writes the login readable by its owner only: the directory 0700, the file 0600, created under
 * a temporary name and renamed, so no other user ever sees the token and a crash leaves the old
 * file whole.
 */
export function writeStoredConfig(path: string, config: StoredConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
