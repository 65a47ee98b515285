import { ApiProperty } from '@nestjs/swagger';
import type { Artifact } from '@kiln/persistence';

/** A file a job's attempt kept. */
export class ArtifactResponse {
  @ApiProperty({ example: 'out/app.tar.gz', description: 'Relative to the job workspace.' })
  name!: string;

  @ApiProperty({ type: 'integer', minimum: 1 })
  attempt!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'In bytes.' })
  size!: number;

  @ApiProperty({ pattern: '^[0-9a-f]{64}$', description: 'Lowercase hex SHA-256 of the bytes.' })
  sha256!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export function toArtifactResponse(artifact: Artifact): ArtifactResponse {
  return {
    name: artifact.name,
    attempt: artifact.attempt,
    size: artifact.size,
    sha256: artifact.sha256,
    createdAt: artifact.createdAt.toISOString(),
  };
}
