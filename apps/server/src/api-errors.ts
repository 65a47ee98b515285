import type { ErrorBody } from '@kiln/common';
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

/** The one error body of every route (see HttpErrorFilter), as the OpenAPI document shows it. */
export class ErrorResponse implements ErrorBody {
  @ApiProperty({ example: 404 })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found' })
  error!: string;

  @ApiProperty({ example: 'run 0b7e8f0c-3c4d-4e4f-8a9b-1c2d3e4f5a6b does not exist' })
  message!: string;

  @ApiPropertyOptional({
    description: 'Individual problems, e.g. one per invalid field.',
    type: [String],
    example: ['cloneUrl must be an http(s), git, ssh or file URL'],
  })
  details?: string[];

  @ApiPropertyOptional({
    description: 'Set on 5xx: the id under which the error was logged.',
    format: 'uuid',
  })
  errorId?: string;
}

/**
 * The errors a route answers besides those its access rule and its inputs imply (which the
 * OpenAPI document adds by itself: see openapi.ts), each with when it happens.
 */
export function ApiErrors(
  errors: Partial<Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503, string>>,
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...Object.entries(errors).map(([status, description]) =>
      ApiResponse({ status: Number(status), description, type: ErrorResponse }),
    ),
  );
}
