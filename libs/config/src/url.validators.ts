import { registerDecorator, type ValidationArguments } from 'class-validator';

/** True when `value` parses as a URL whose scheme is one of `protocols` and that names a host. */
export function isUrlWithScheme(value: unknown, protocols: readonly string[]): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const url = new URL(value);
  return protocols.includes(url.protocol) && url.hostname !== '';
}

function urlWithScheme(schemes: readonly string[], example: string): PropertyDecorator {
  const protocols = schemes.map((s) => `${s}:`);
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isUrlWithScheme',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown) => isUrlWithScheme(value, protocols),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must be a ${schemes.join(' or ')} URL such as ${example}`,
      },
    });
  };
}

export const IsPostgresUrl = (): PropertyDecorator =>
  urlWithScheme(['postgres', 'postgresql'], 'postgres://user:password@host:5432/kiln');

export const IsRedisUrl = (): PropertyDecorator =>
  urlWithScheme(['redis', 'rediss'], 'redis://127.0.0.1:6379');

export const IsHttpUrl = (): PropertyDecorator =>
  urlWithScheme(['http', 'https'], 'http://127.0.0.1:5050');
