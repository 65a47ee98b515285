import { ValidateIf } from 'class-validator';

/**
 * A field that may be left out, but is validated when given, `null` included: class-validator's
 * `@IsOptional()` for `undefined` only. `@IsOptional()` lets `null` past every other rule, and a
 * service that reads "not given" as `=== undefined` then took it for a value (a 500 from the
 * database, a setting silently turned off). Keep `@IsOptional()` for the fields where `null` means
 * something: clearing a value.
 */
export function Omittable(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}
