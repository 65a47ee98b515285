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
  const message = plainToInstance(cls, json);
  const errors = validateSync(message, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) throw new InvalidMessageError(cls.name, flattenErrors(errors));
  return message;
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
