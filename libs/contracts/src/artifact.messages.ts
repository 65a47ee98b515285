import { ArrayMaxSize, IsString, Matches, MaxLength } from 'class-validator';

/** The largest artifact file an agent uploads and a server takes. */
export const ARTIFACT_MAX_BYTES = 1024 ** 3;

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
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) refuse('it contains a NUL or control character');
  if (name.includes('\\')) refuse('it contains a backslash');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) refuse('it is an absolute path');
  const segments = name.split('/');
  if (segments.includes('..')) refuse('it contains a ".." segment');
  if (segments.includes('.')) refuse('it contains a "." segment');
  if (segments.includes('')) refuse('it contains an empty segment');
  return segments.join('/');
}
