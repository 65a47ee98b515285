/**
 * The address agents and people reach this server at: KILN_PUBLIC_URL, or the address it
 * listens on (known only once it listens, hence a holder rather than a constant).
 */
export class ServerUrl {
  private url: string | undefined;

  constructor(configured?: string) {
    this.url = configured?.replace(/\/+$/, '');
  }

  /** Set by main once listening; a configured KILN_PUBLIC_URL wins. */
  listening(url: string): void {
    this.url ??= url.replace('[::1]', 'localhost').replace(/\/+$/, '');
  }

  get value(): string {
    if (this.url === undefined) throw new Error('the server does not listen yet');
    return this.url;
  }

  resolve(path: string): string {
    return `${this.value}${path}`;
  }
}
