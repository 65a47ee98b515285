import { ApiPropertyOptional } from '@nestjs/swagger';

/** What a forge is answered: one of the outcomes of WebhooksService, documented as one shape. */
export class WebhookResponse {
  @ApiPropertyOptional({ format: 'uuid', description: '202: the run the delivery created.' })
  runId?: string;

  @ApiPropertyOptional({ type: 'integer', description: '202: its number.' })
  number?: number;

  @ApiPropertyOptional({
    description: 'Why nothing happens (a ping, a deleted branch, `[skip ci]`, another event).',
    example: 'the head commit asks to skip CI',
  })
  ignored?: string;

  @ApiPropertyOptional({ format: 'uuid', description: '200: a redelivery; the run it created.' })
  duplicateOf?: string;

  @ApiPropertyOptional({ example: 'delivery 1234 was received before' })
  message?: string;
}
