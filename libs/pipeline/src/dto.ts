// class-transformer's @Type reads design-time metadata: load the polyfill wherever DTOs are.
import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  ArrayNotEmpty,
  type ValidationOptions,
} from 'class-validator';

/*
 * The shape of `.kiln.yml`: which keys exist and the type of each value. Rules that need the
 * whole document (needs, cycles, matrix size) or per-item positions (event names, env keys,
 * artifact paths) are checked by `compile.ts`, where each problem can point at its own node.
 */

export const RESOURCE_LIMITS = { cpus: 64, mem: 262_144 } as const;
export const MAX_RETRY = 5;

/** A string or a list of strings: `event: push` is as natural as `event: [push, tag]`. */
function IsStringOrList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStringOrList',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' ||
          (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')),
        defaultMessage: () => 'must be a string or a non-empty list of strings',
      },
    },
    options,
  );
}

export class WhenDto {
  @IsOptional() @IsStringOrList() event?: string | string[];
  @IsOptional() @IsStringOrList() branch?: string | string[];
  @IsOptional() @IsStringOrList() path?: string | string[];
  @IsOptional() @IsStringOrList() environment?: string | string[];
}

export class StepDto {
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  name?: string;

  @IsDefined({ message: 'is required' })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  run!: string;
}

export class ResourcesDto {
  @IsOptional()
  @IsNumber({}, { message: 'must be a number' })
  @IsPositive({ message: 'must be positive' })
  @Max(RESOURCE_LIMITS.cpus, { message: `must be at most ${RESOURCE_LIMITS.cpus}` })
  cpus?: number;

  @IsOptional()
  @IsInt({ message: 'must be a whole number of MiB' })
  @IsPositive({ message: 'must be positive' })
  @Max(RESOURCE_LIMITS.mem, { message: `must be at most ${RESOURCE_LIMITS.mem} (MiB)` })
  mem?: number;
}

export class JobDto {
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  image?: string;

  @IsDefined({ message: 'is required' })
  @IsArray({ message: 'must be a list of steps' })
  @ArrayNotEmpty({ message: 'must have at least one step' })
  @ValidateNested({ each: true })
  @Type(() => StepDto)
  steps!: StepDto[];

  @IsOptional() @IsObject({ message: 'must be a mapping' }) env?: Record<string, unknown>;

  @IsOptional()
  @IsObject({ message: 'must be a mapping' })
  @ValidateNested()
  @Type(() => ResourcesDto)
  resources?: ResourcesDto;

  @IsOptional() @IsStringOrList() needs?: string | string[];

  @IsOptional()
  @IsObject({ message: 'must be a mapping' })
  @ValidateNested()
  @Type(() => WhenDto)
  when?: WhenDto;

  @IsOptional() @IsObject({ message: 'must be a mapping' }) matrix?: Record<string, unknown>;

  // Checked by parseDuration in compile.ts, which quotes the offending text.
  @IsOptional() timeout?: unknown;

  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be at least 0' })
  @Max(MAX_RETRY, { message: `must be at most ${MAX_RETRY}` })
  retry?: number;

  @IsOptional() @IsBoolean({ message: 'must be true or false' }) allow_failure?: boolean;
  @IsOptional() @IsStringOrList() secrets?: string | string[];
  @IsOptional() @IsStringOrList() artifacts?: string | string[];
}

export class PipelineDto {
  @IsOptional()
  @IsObject({ message: 'must be a mapping' })
  @ValidateNested()
  @Type(() => WhenDto)
  when?: WhenDto;

  @IsOptional() @IsObject({ message: 'must be a mapping' }) env?: Record<string, unknown>;

  // Each job is validated on its own against JobDto: class-validator has no "record of" type.
  @IsDefined({ message: 'is required' }) @IsObject({ message: 'must be a mapping' }) jobs!: Record<
    string,
    unknown
  >;
}
