import { ApiProperty } from '@nestjs/swagger';

/** CPUs and memory: an agent's, or what a job asks for. */
export class ResourcesResponse {
  @ApiProperty({ example: 4 })
  cpus!: number;

  @ApiProperty({ description: 'Memory, in MiB.', example: 8192 })
  mem!: number;
}
