import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { TOPIC_FORMS } from './live-topics';

export class LiveEventsQuery {
  @ApiProperty({
    description: `What the stream watches, comma-separated: ${TOPIC_FORMS}`,
    example: 'run:3f1c2a8e-0b7d-4c61-9a52-7d1e5b9c0f44,queue',
  })
  @IsString()
  topics!: string;
}
