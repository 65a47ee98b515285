import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerApp, type ServerApp } from './support/server-app';

const ADMIN_PASSWORD = 'sign-in-admin-password';

describe('signing in', () => {
  let server: ServerApp;

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  }, 60_000);
  afterAll(() => server?.close());

  const signIn = (username: string, password: string): Promise<Response> =>
    fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });

  it('sets an HttpOnly, SameSite session cookie and answers the CSRF token, which a reload gets back', async () => {
    const res = await signIn('admin', ADMIN_PASSWORD);
    expect(res.status).toBe(200);
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^kiln_session=[\w-]+;/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const cookie = setCookie.split(';')[0]!;
    const again = await fetch(`${server.url}/api/v1/session`, { headers: { cookie } });
    expect(await again.json()).toMatchObject({ user: { username: 'admin' }, csrfToken });
    const out = await fetch(`${server.url}/api/v1/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    expect(out.status).toBe(204);
    expect((await fetch(`${server.url}/api/v1/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('says the same for a wrong password and an unknown user, and limits attempts', async () => {
    const wrong = await signIn('admin', 'not the password');
    const unknown = await signIn('nobody', 'not the password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
    // 10 a minute per address: the earlier tests made 3, so the 8th from here is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await signIn('admin', 'guess')).status);
    expect(statuses.slice(0, 7)).toEqual(Array(7).fill(401));
    expect(statuses[7]).toBe(429);
    // Even the right password waits out the minute.
    expect((await signIn('admin', ADMIN_PASSWORD)).status).toBe(429);
  });
});
