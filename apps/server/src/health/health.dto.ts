import type { DatabaseStatus } from '@kiln/persistence';
import type { RedisStatus } from '@kiln/queue';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Readiness } from './health.service';

export class LivenessResponse {
  @ApiProperty({ enum: ['ok'] })
  status!: 'ok';
}

export class DatabaseStatusResponse implements DatabaseStatus {
  @ApiProperty()
  up!: boolean;

  @ApiProperty({ enum: ['sqlite', 'postgres'] })
  dialect!: DatabaseStatus['dialect'];

  @ApiPropertyOptional()
  error?: string;
}

export class RedisStatusResponse implements RedisStatus {
  @ApiProperty()
  up!: boolean;

  @ApiPropertyOptional({ example: 'connection is reconnecting' })
  error?: string;
}

export class ReadinessChecksResponse {
  @ApiProperty({ type: DatabaseStatusResponse })
  database!: DatabaseStatusResponse;

  @ApiProperty({ type: RedisStatusResponse })
  redis!: RedisStatusResponse;
}

export class ReadinessResponse implements Readiness {
  @ApiProperty({ description: 'Every dependency answers and the process is not shutting down.' })
  ready!: boolean;

  @ApiProperty({ description: 'The process is shutting down.' })
  draining!: boolean;

  @ApiProperty({ type: ReadinessChecksResponse })
  checks!: ReadinessChecksResponse;
}
