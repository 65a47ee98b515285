// class-transformer's @Type reads design-time metadata: load the polyfill wherever contracts are.
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import {
  registerDecorator,
  validateSync,
  type ValidationError,
  type ValidationOptions,
} from 'class-validator';

/** Ids of agents, frameworks, tasks and offers: safe in file names, URLs and log lines. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export class InvalidMessageError extends Error {
  constructor(
    what: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid ${what}: ${problems.join('; ')}`);
    this.name = 'InvalidMessageError';
  }
}

/**
 * Turns JSON that crossed a process boundary into a validated message class, or throws an
 * {@link InvalidMessageError} listing every problem with its path (`task.resources.cpus …`).
 */
export function parseMessage<T extends object>(cls: new () => T, json: unknown): T {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidMessageError(cls.name, ['expected a JSON object']);
  }
  const unknown: string[] = [];
  const message = restoreKeys(plainToInstance(cls, escapeKeys(json)), '', unknown);
  const errors = validateSync(message, { whitelist: true, forbidNonWhitelisted: true });
  const problems = [...unknown, ...flattenErrors(errors)];
  if (problems.length > 0) throw new InvalidMessageError(cls.name, problems);
  return message;
}

/*
 * A task's environment may name a variable `constructor`, `__proto__` or `toString`.
 * class-transformer takes `value.constructor` for the class of a plain object and assigns keys
 * one by one, so such a key crashes it or is dropped. Around it they travel under another name.
 */
const ESCAPED = '\u0000kiln-key:';
const needsEscape = (key: string) =>
  Object.hasOwn(Object.prototype, key) || key.startsWith(ESCAPED);

function escapeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapeKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      needsEscape(key) ? `${ESCAPED}${key}` : key,
      escapeKeys(item),
    ]),
  );
}

/**
 * Puts the escaped keys back in place in plain records. On a message class such a key is one
 * it does not have: it is listed in `unknown` (class-validator would look it up as the class).
 */
function restoreKeys<T>(value: T, path: string, unknown: string[]): T {
  if (Array.isArray(value)) {
    (value as unknown[]).forEach((item, i) => {
      restoreKeys(item, `${path}${i}.`, unknown);
    });
  } else if (typeof value === 'object' && value !== null) {
    const record = Object.getPrototypeOf(value) === Object.prototype;
    for (const [key, item] of Object.entries(value)) {
      restoreKeys(item, `${path}${key}.`, unknown);
      if (!key.startsWith(ESCAPED)) continue;
      delete (value as Record<string, unknown>)[key];
      const original = key.slice(ESCAPED.length);
      if (!record) {
        unknown.push(`${path}property ${original} should not exist`);
        continue;
      }
      // defineProperty, because assigning to `__proto__` would set the prototype instead.
      Object.defineProperty(value, original, {
        value: item,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
  return value;
}

/** Class-validator's nested errors as flat `path: problem` lines. */
export function flattenErrors(errors: readonly ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent === '' ? error.property : `${parent}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((c) =>
      c.startsWith(error.property) ? `${parent === '' ? '' : `${parent}.`}${c}` : `${path}: ${c}`,
    );
    return [...own, ...flattenErrors(error.children ?? [], path)];
  });
}

/** An object whose values are all strings with at most `maxEntries` keys (environments, labels). */
export function IsStringRecord(maxEntries = 1000, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isStringRecord',
      target: target.constructor,
      propertyName: String(propertyName),
      options: {
        message: `$property must be an object of at most ${maxEntries} string values`,
        ...options,
      },
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.keys(value).length <= maxEntries &&
          Object.values(value).every((v) => typeof v === 'string'),
      },
    });
  };
}

/** Inclusive port ranges `[[begin, end], …]` within 0–65535. */
export function IsPortRanges(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isPortRanges',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: '$property must be a list of [begin, end] port ranges', ...options },
      validator: {
        validate: (value: unknown) =>
          Array.isArray(value) &&
          value.length <= 1000 &&
          value.every(
            (range) =>
              Array.isArray(range) &&
              range.length === 2 &&
              range.every(
                (p) => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535,
              ) &&
              (range[0] as number) <= (range[1] as number),
          ),
      },
    });
  };
}
