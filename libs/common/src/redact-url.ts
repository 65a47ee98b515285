/** A URL with any password replaced, so it can be printed in logs and errors. */
export function redactUrl(value: string): string {
  if (!URL.canParse(value)) return value;
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}
