import { Param, ParseUUIDPipe } from '@nestjs/common';

/** A route parameter that must be a UUID (400 naming it otherwise). */
export const UuidParam = (name: string): ParameterDecorator =>
  Param(name, new ParseUUIDPipe({ version: '4' }));
