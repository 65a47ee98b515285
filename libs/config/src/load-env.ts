import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';

/** Thrown when the environment does not satisfy an app's configuration class. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type EnvClass<T> = new () => T;

/** Every variable a configuration class reads, in declaration order (for docs and tests). */
export function envVariables(cls: EnvClass<object>): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))];
}

/**
 * Reads an app's configuration class from the environment and validates it.
 *
 * Only the variables the class declares are read, empty strings count as unset (so
 * `KILN_DATABASE_URL=` means "the default"), and every problem is reported at once, naming the
 * variable, what was expected and what was given: a process must never start half-configured.
 */
export function loadEnv<T extends object>(
  cls: EnvClass<T>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): T {
  const raw: Record<string, string> = {};
  for (const name of envVariables(cls)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') raw[name] = value;
  }
  const config = plainToInstance(cls, raw, { exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: true, stopAtFirstError: true });
  if (errors.length > 0) throw new ConfigError(errors.flatMap((e) => describe(e, raw)));
  return config;
}

function describe(error: ValidationError, raw: Record<string, string>): string[] {
  const given = raw[error.property];
  const got = given === undefined ? 'it is not set' : `got ${JSON.stringify(given)}`;
  return Object.values(error.constraints ?? {}).map((c) => `${c} (${got})`);
}
