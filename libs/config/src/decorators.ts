import { applyDecorators } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min, ValidateIf } from 'class-validator';

/** An integer variable within [min, max]. */
export function EnvInt(min: number, max: number): PropertyDecorator {
  return applyDecorators(
    Type(() => Number),
    IsInt({ message: ({ property }) => `${property} must be an integer` }),
    Min(min, { message: ({ property }) => `${property} must be at least ${min}` }),
    Max(max, { message: ({ property }) => `${property} must be at most ${max}` }),
  );
}

/** A TCP port variable; 0 asks the kernel for a free port (tests run many processes at once). */
export function EnvPort(): PropertyDecorator {
  return EnvInt(0, 65535);
}

/** A variable that must be one of a closed set of words. */
export function EnvEnum(values: readonly string[]): PropertyDecorator {
  return IsIn(values, {
    message: ({ property }) => `${property} must be one of ${values.join(', ')}`,
  });
}

/** A boolean variable: true/false, 1/0, yes/no. */
export function EnvBool(): PropertyDecorator {
  const truthy = new Set(['true', '1', 'yes', 'on']);
  const falsy = new Set(['false', '0', 'no', 'off']);
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => {
      if (typeof value !== 'string') return value;
      const word = value.trim().toLowerCase();
      if (truthy.has(word)) return true;
      if (falsy.has(word)) return false;
      return value;
    }),
    IsIn([true, false], {
      message: ({ property }) => `${property} must be true or false`,
    }),
  );
}

/** An optional string variable; unset stays undefined. */
export function EnvOptionalString(): PropertyDecorator {
  return applyDecorators(IsOptional(), IsString());
}

/** Validates only when set: for optional variables that have a shape when present. */
export function WhenSet(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}
