import type { Command } from 'commander';
import { ApiClient } from './api-client';
import type { Repository, Run } from './api-types';
import { configPath, readStoredConfig, resolveConfig, type ResolvedConfig } from './config';
import { NotFoundError, UsageError } from './errors';
import { colorEnabled, Painter } from './output';
import { terminalText, TerminalFilter } from './terminal-text';

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** The process around a command, injected so tests run commands in-process. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  stdin: AsyncIterable<Buffer | string> & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  now(): Date;
  sleep(ms: number): Promise<void>;
  fetch?: typeof fetch;
  /** Where relative paths (downloads) go; the process's working directory when unset. */
  cwd?: string;
  version: string;
}

/** The options every command takes. */
export interface GlobalOptions {
  server?: string;
  token?: string;
  json?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a command needs: its options, the configuration, the API, and where to print. */
export class CommandContext {
  readonly painter: Painter;
  private resolved: ResolvedConfig | undefined;

  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {
    this.painter = new Painter(colorEnabled(io.stdout, io.env));
  }

  static of(io: CliIo, command: Command): CommandContext {
    return new CommandContext(io, command.optsWithGlobals<GlobalOptions>());
  }

  get json(): boolean {
    return this.options.json === true;
  }

  get configPath(): string {
    return configPath(this.io.env);
  }

  get config(): ResolvedConfig {
    this.resolved ??= resolveConfig({
      flags: this.options,
      env: this.io.env,
      stored: readStoredConfig(this.configPath),
    });
    return this.resolved;
  }

  client(config: Pick<ResolvedConfig, 'server' | 'token'> = this.config): ApiClient {
    return new ApiClient({
      server: config.server,
      ...(config.token === undefined ? {} : { token: config.token }),
      userAgent: `kiln-cli/${this.io.version}`,
      ...(this.io.fetch === undefined ? {} : { fetch: this.io.fetch }),
    });
  }

  /**
   * Text the command composed (names, messages, tables): on a terminal, with no control sequence
   * but the plain colours it paints (see terminal-text.ts); in a pipe, as it is.
   */
  out(text: string): void {
    this.io.stdout.write(this.io.stdout.isTTY === true ? terminalText(text, 'text') : text);
  }

  /**
   * A build's log, chunk by chunk: on a terminal, its colours and carriage returns only (unless
   * `raw`); in a pipe, byte for byte.
   */
  logWriter(raw = false): { write(chunk: string): void; end(): void } {
    const filter = this.io.stdout.isTTY === true && !raw ? new TerminalFilter('log') : undefined;
    return {
      write: (chunk) => {
        this.io.stdout.write(filter === undefined ? chunk : filter.write(chunk));
      },
      end: () => {
        if (filter !== undefined) this.io.stdout.write(filter.end());
      },
    };
  }

  /** One JSON document (pretty on a terminal, compact in a pipe). */
  printJson(value: unknown): void {
    const indent = this.io.stdout.isTTY === true ? 2 : undefined;
    this.out(`${JSON.stringify(value, null, indent)}\n`);
  }

  /** One JSON object on one line (NDJSON), for streams of changes. */
  printJsonLine(value: unknown): void {
    this.out(`${JSON.stringify(value)}\n`);
  }

  /** A note for people, on stderr, so stdout stays the command's output. */
  note(text: string): void {
    const line = `kiln: ${text}\n`;
    this.io.stderr.write(this.io.stderr.isTTY === true ? terminalText(line, 'text') : line);
  }

  /**
   * A repository named by id or by `owner/name` (or `forge:owner/name` when two forges share a
   * name), looked up in the list.
   */
  async repository(ref: string): Promise<Pick<Repository, 'id'> & Partial<Repository>> {
    if (UUID.test(ref)) return { id: ref.toLowerCase() };
    const match = /^(?:([a-z]+):)?(.+)$/.exec(ref);
    const forge = match?.[1];
    const name = match?.[2] ?? ref;
    if (!name.includes('/')) {
      throw new UsageError(`'${ref}' is neither a repository id nor owner/name`);
    }
    const all = await this.client().listRepositories();
    const candidates = all.filter((r) => forge === undefined || r.forge === forge);
    let found = candidates.filter((r) => r.fullName === name);
    if (found.length === 0) {
      found = candidates.filter((r) => r.fullName.toLowerCase() === name.toLowerCase());
    }
    if (found.length === 0) throw new NotFoundError(`repository ${ref} is not registered`);
    if (found.length > 1) {
      const names = found.map((r) => `${r.forge}:${r.fullName}`).join(', ');
      throw new UsageError(`'${ref}' names ${found.length} repositories: say which (${names})`);
    }
    return found[0]!;
  }

  /** The id of a run named on the command line; `repo` is the `--repo` option, if given. */
  async runId(ref: RunRef, repo: string | undefined): Promise<string> {
    if ('id' in ref) return ref.id;
    const repository = ref.repository ?? repo;
    if (repository === undefined) {
      throw new UsageError(
        `which repository's run #${ref.number}? Say <repo>#${ref.number} ` +
          `(e.g. acme/app#${ref.number}) or add --repo <repo>`,
      );
    }
    return (await this.run(repository, ref.number)).id;
  }

  /**
   * Run `number` of a repository named as {@link repository} takes it. The run list pages by
   * number, so the page before `number + 1` starts with it if it exists.
   */
  async run(repositoryRef: string, number: number): Promise<Run> {
    const { id } = await this.repository(repositoryRef);
    const page = await this.client().listRuns(id, { before: number + 1, limit: 1 });
    const run = page.runs[0];
    if (run?.number !== number) throw new NotFoundError(`${repositoryRef} has no run #${number}`);
    return run;
  }
}

/** A run as the command line names it: its id, or its number in a repository. */
export type RunRef = { id: string } | { repository?: string; number: number };

export const RUN_ARGUMENT_HELP =
  'the run: its id, <repo>#<number> (acme/app#12), or a number with --repo';

/**
 * Reads a run argument: a run id (a UUID), `<repo>#<number>` (`acme/app#12`, the way `kiln runs`
 * lists them), or a bare number (`12`, `#12`) whose repository `--repo` names.
 */
export function runArgument(value: string): RunRef {
  if (UUID.test(value)) return { id: value.toLowerCase() };
  const match = /^(?:(.+))?#(\d{1,15})$|^(\d{1,15})$/.exec(value);
  const number = Number(match?.[2] ?? match?.[3]);
  if (match === null || !Number.isSafeInteger(number) || number < 1) {
    throw new UsageError(
      `a run is its id (a UUID), <repo>#<number> (e.g. acme/app#12), or a number with --repo; ` +
        `got '${value}'`,
    );
  }
  return match[1] === undefined ? { number } : { repository: match[1], number };
}

/** Checks an id argument client-side: a typo is a usage error, not a server round trip. */
export function uuidArgument(what: string): (value: string) => string {
  return (value) => {
    if (!UUID.test(value)) throw new UsageError(`${what} must be a UUID, got '${value}'`);
    return value.toLowerCase();
  };
}

const ENVIRONMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Checks an environment name the way the server does, so a typo fails before any call. */
export function environmentArgument(value: string): string {
  if (!ENVIRONMENT.test(value)) {
    throw new UsageError(
      `an environment name is letters, digits, '.', '_' and '-' (up to 63, starting with a ` +
        `letter or digit), got '${value}'`,
    );
  }
  return value;
}

export function positiveInteger(
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): (value: string) => number {
  return wholeNumber(what, 1, max);
}

/** A whole number from `min` to `max`, written in digits only. */
export function wholeNumber(what: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(`${what} must be a whole number from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}
