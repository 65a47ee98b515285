import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  registerDecorator,
  type ValidationArguments,
  type ValidationOptions,
} from 'class-validator';
import { Nested } from './message-validator';

/** The largest artifact file an agent uploads and a server takes. */
export const ARTIFACT_MAX_BYTES = 1024 ** 3;

/** The most artifact files an agent uploads for one task: more are better one archive. */
export const ARTIFACTS_MAX_FILES = 1_000;

/** The most bytes of artifacts an agent uploads for one task, all files together. */
export const ARTIFACTS_MAX_TOTAL_BYTES = 4 * 1024 ** 3;

/** The request header with the lowercase hex SHA-256 of an uploaded artifact's bytes. */
export const ARTIFACT_SHA256_HEADER = 'x-kiln-sha256';

/**
 * Where an agent uploads a task's artifacts once its command has succeeded: the files of the
 * sandbox matching `patterns` (globs relative to it), each as `PUT <url>/<name, each segment
 * URL-encoded>` with `Authorization: Bearer <token>` and the {@link ARTIFACT_SHA256_HEADER}.
 */
export class ArtifactSinkInfo {
  @IsString({ each: true })
  @MaxLength(1024, { each: true })
  @ArrayMaxSize(100)
  patterns!: string[];

  @Matches(/^https?:\/\/\S+$/, { message: 'artifacts.url must be an http(s) URL' })
  @MaxLength(2048)
  url!: string;

  @IsString()
  @MaxLength(512)
  token!: string;
}

/** A name that may not be an artifact's: `problem` says why, for people. */
export class ArtifactNameError extends Error {
  constructor(
    readonly artifactName: string,
    readonly problem: string,
  ) {
    super(`artifact name ${JSON.stringify(artifactName)}: ${problem}`);
    this.name = ArtifactNameError.name;
  }
}

const MAX_NAME_LENGTH = 1024;
/** What a file name may take on Linux (NAME_MAX), in bytes: each segment is stored as one. */
const MAX_SEGMENT_BYTES = 255;

/**
 * The canonical form of an artifact's name, a relative `/`-separated path, or an
 * {@link ArtifactNameError}. Nothing is resolved, only refused: a name that could mean a place
 * outside the artifact root (absolute, `..`) or be read two ways (`.`, empty segments,
 * backslashes, control characters) is not an artifact's name, on the agent or on the server.
 */
export function normalizeArtifactName(name: string): string {
  const refuse = (problem: string): never => {
    throw new ArtifactNameError(name, problem);
  };
  if (name === '') refuse('it is empty');
  if (name.length > MAX_NAME_LENGTH) refuse(`it is longer than ${MAX_NAME_LENGTH} characters`);
  // C0, DEL and C1 (U+0080–U+009F: a terminal may take U+009B for CSI, U+009D for OSC).
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) refuse('it contains a NUL or control character');
  if (name.includes('\\')) refuse('it contains a backslash');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) refuse('it is an absolute path');
  const segments = name.split('/');
  if (segments.includes('..')) refuse('it contains a ".." segment');
  if (segments.includes('.')) refuse('it contains a "." segment');
  if (segments.includes('')) refuse('it contains an empty segment');
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)) {
    refuse(`a segment of it is longer than a file name may be (${MAX_SEGMENT_BYTES} bytes)`);
  }
  return segments.join('/');
}

/** Why `value` is not an artifact's name in its canonical form, or undefined when it is. */
function artifactNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'it is not a string';
  try {
    normalizeArtifactName(value);
    return undefined;
  } catch (error) {
    if (error instanceof ArtifactNameError) return error.problem;
    throw error;
  }
}

/**
 * A name {@link normalizeArtifactName} keeps as it is. The message says what is wrong with it,
 * because "invalid name" leaves a person guessing which of the rules a path broke.
 */
export function IsArtifactName(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isArtifactName',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => artifactNameProblem(value) === undefined,
        defaultMessage: (args?: ValidationArguments) =>
          `$property is not an artifact name: ${artifactNameProblem(args?.value) ?? 'unknown'}`,
      },
    });
  };
}

/** One file of another run's artifacts that a task needs in its sandbox. */
export class ArtifactInputFile {
  /** Where the file goes, relative to the sandbox. */
  @IsArtifactName()
  name!: string;

  /** Lowercase hex SHA-256 of the bytes: what the agent checks them against before placing them. */
  @Matches(/^[0-9a-f]{64}$/, { message: '$property must be 64 lowercase hex digits' })
  sha256!: string;

  @IsInt()
  @Min(0)
  @Max(ARTIFACT_MAX_BYTES)
  size!: number;

  @Matches(/^https?:\/\/\S+$/, { message: '$property must be an http(s) URL' })
  @MaxLength(2048)
  url!: string;
}

/**
 * Artifacts of an earlier run that a task starts with (a promotion ships what its promoted run
 * built). The agent GETs each file's `url` with `Authorization: Bearer <token>` and writes the
 * bytes at the file's `name` in the sandbox after the source checkout, before the command runs;
 * bytes whose size or sha256 differ from the file's are not placed and fail the task.
 */
export class ArtifactInputsInfo {
  @IsString()
  @MaxLength(512)
  token!: string;

  @IsArray()
  @ArrayMaxSize(1000)
  @Nested(() => ArtifactInputFile, { each: true })
  files!: ArtifactInputFile[];
}
