import { BadRequestException, Param, type PipeTransform } from '@nestjs/common';
import { ENVIRONMENT_NAME } from './releases.dto';

class EnvironmentNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!ENVIRONMENT_NAME.test(value)) {
      throw new BadRequestException(
        `name must be an environment name (letters, digits, ".", "_", "-"; at most 63): got ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
    return value;
  }
}

/** The `:name` route parameter, which must be an environment name (400 naming it otherwise). */
export const EnvironmentNameParam = (): ParameterDecorator =>
  Param('name', new EnvironmentNamePipe());
