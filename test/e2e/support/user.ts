import { ApiClient } from './api-client';

/** A signed-in session of the web API, as a browser holds it. */
export interface Session {
  /** The session cookie, `name=value`, to send back in a `cookie` header. */
  cookie: string;
  /** What every state-changing call of the session must send in `x-csrf-token`. */
  csrfToken: string;
}

/** Signs in the way the web UI does (POST /api/v1/session); throws unless the server lets in. */
export async function openSession(
  serverUrl: string,
  username: string,
  password: string,
): Promise<Session> {
  const res = await fetch(`${serverUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`${username} cannot sign in: ${res.status}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '', csrfToken };
}

/**
 * A user of the API with a personal token made the way a person makes one: signed in (a session
 * and its CSRF token), then POST /api/v1/tokens. Every call of the user carries that token.
 */
export class User extends ApiClient {
  private constructor(
    url: string,
    override readonly token: string,
    readonly id: string,
    readonly name: string,
    readonly password: string,
    /** The session the token was made in (still signed in). */
    readonly session: Session,
    readonly tokenId: string,
  ) {
    super(url, token, name);
  }

  /** Creates user `name` through `admin` (an administrator's client), then signs in as them. */
  static async create(
    admin: ApiClient,
    name: string,
    options: { admin?: boolean } = {},
  ): Promise<User> {
    const password = `${name}-password-long-enough`;
    const { id } = await admin.ok<{ id: string }>('POST', '/api/v1/users', {
      username: name,
      password,
      admin: options.admin ?? false,
    });
    const session = await openSession(admin.url, name, password);
    const res = await fetch(`${admin.url}/api/v1/tokens`, {
      method: 'POST',
      headers: {
        cookie: session.cookie,
        'content-type': 'application/json',
        'x-csrf-token': session.csrfToken,
      },
      body: JSON.stringify({ name: 'cli' }),
    });
    if (res.status !== 201) throw new Error(`${name} cannot make a token: ${res.status}`);
    const made = (await res.json()) as { id: string; token: string };
    return new User(admin.url, made.token, id, name, password, session, made.id);
  }
}
