import { registerDecorator, type ValidationOptions } from 'class-validator';
import { compileMessageValidator, type MessageValidator } from './message-validator';

export { Nested } from './message-validator';

/** Ids of agents, frameworks, tasks and offers: safe in file names, URLs and log lines. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/**
 * The most problems an {@link InvalidMessageError}'s message names: an ACCEPT of 1,000 bad tasks
 * (or a frame of 10,000 such calls) would otherwise be answered with every one of its problems,
 * an answer as large as the call, which the answering side builds and sends.
 */
export const MAX_PROBLEMS_TOLD = 20;

export class InvalidMessageError extends Error {
  constructor(
    what: string,
    readonly problems: readonly string[],
  ) {
    const more = problems.length - MAX_PROBLEMS_TOLD;
    super(
      `invalid ${what}: ${problems.slice(0, MAX_PROBLEMS_TOLD).join('; ')}` +
        (more > 0 ? `; and ${more} more problems` : ''),
    );
    this.name = 'InvalidMessageError';
  }
}

const validators = new WeakMap<object, MessageValidator>();

/**
 * Compiles the validator of `cls` now, at boot, so that the first message does not wait for it
 * ({@link parseMessage} would compile it on first use).
 */
export function prepareMessage(cls: new () => object): void {
  validatorOf(cls);
}

function validatorOf(cls: new () => object): MessageValidator {
  let validate = validators.get(cls);
  if (validate === undefined) {
    // Not when a class is declared: only once it is used are all the classes it nests loaded.
    validate = compileMessageValidator(cls);
    validators.set(cls, validate);
  }
  return validate;
}

/**
 * Checks JSON that crossed a process boundary against a message class's decorators, or throws an
 * {@link InvalidMessageError} listing every problem with its path (`task.resources.cpus …`).
 *
 * The message is the JSON itself, typed as the class, not an instance of it: message classes are
 * data with no methods. Keys such as `constructor` or `__proto__` are ordinary keys in string
 * records (a task's environment may have them), and unknown fields where a message has fixed ones.
 */
export function parseMessage<T extends object>(cls: new () => T, json: unknown): T {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidMessageError(cls.name, ['expected a JSON object']);
  }
  const validate = validatorOf(cls);
  const problems = validate(json);
  if (problems.length > 0) throw new InvalidMessageError(cls.name, problems);
  return json as T;
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
function overlapping(ranges: readonly (readonly [number, number])[]): boolean {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  return sorted.some((range, i) => i > 0 && range[0] <= sorted[i - 1]![1]);
}

export function IsPortRanges(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isPortRanges',
      target: target.constructor,
      propertyName: String(propertyName),
      options: {
        message: '$property must be a list of [begin, end] port ranges, none overlapping another',
        ...options,
      },
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
          ) &&
          // A port named twice would be counted once where it is held, and freed twice.
          !overlapping(value as [number, number][]),
      },
    });
  };
}
