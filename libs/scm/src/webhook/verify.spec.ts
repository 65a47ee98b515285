import { describe, expect, it } from 'vitest';
import { body, SECRET, signatureHeaders, webhookError } from './spec-support';
import type { Forge } from './types';
import { verifyWebhook } from './verify';

const payload = { ref: 'refs/heads/main', after: 'abc', nested: { list: [1, 2, 3] } };
const raw = body(payload);

const cases: { forge: Forge; header: string }[] = [
  { forge: 'github', header: 'X-Hub-Signature-256' },
  { forge: 'gitlab', header: 'X-Gitlab-Token' },
  { forge: 'gitea', header: 'X-Gitea-Signature' },
  { forge: 'forgejo', header: 'X-Forgejo-Signature' },
  { forge: 'bitbucket', header: 'X-Hub-Signature' },
];

describe(verifyWebhook.name, () => {
  describe.each(cases)('$forge', ({ forge, header }) => {
    it('accepts a body signed with the secret', () => {
      expect(() => verifyWebhook(forge, signatureHeaders(forge, raw), raw, SECRET)).not.toThrow();
    });

    it('rejects a body signed with another secret with 401', () => {
      const error = webhookError(() =>
        verifyWebhook(forge, signatureHeaders(forge, raw, 'wrong'), raw, SECRET),
      );
      expect(error.status).toBe(401);
      expect(error.message).toBe(`signature in ${header} does not match`);
    });

    it('rejects a missing signature header with 401 naming the header', () => {
      const error = webhookError(() => verifyWebhook(forge, {}, raw, SECRET));
      expect(error.status).toBe(401);
      expect(error.message).toContain(header);
    });

    it('rejects a signature of a different length with 401 rather than a RangeError', () => {
      const headers = signatureHeaders(forge, raw);
      const key = Object.keys(headers)[0] ?? '';
      for (const value of ['a', 'sha256=a', `${String(headers[key])}00`]) {
        expect(webhookError(() => verifyWebhook(forge, { [key]: value }, raw, SECRET)).status).toBe(
          401,
        );
      }
    });

    it('fails closed when no secret is configured', () => {
      const error = webhookError(() =>
        verifyWebhook(forge, signatureHeaders(forge, raw, ''), raw, ''),
      );
      expect(error.status).toBe(401);
    });

    it('rejects a header repeated with different values', () => {
      const good = signatureHeaders(forge, raw);
      const key = Object.keys(good)[0] ?? '';
      const headers = { [key]: [String(good[key]), 'forged'] };
      expect(webhookError(() => verifyWebhook(forge, headers, raw, SECRET)).status).toBe(401);
    });
  });

  describe.each(cases.filter((c) => c.forge !== 'gitlab'))(
    '$forge (HMAC over the body)',
    ({ forge }) => {
      it('rejects a body with one byte tampered', () => {
        const headers = signatureHeaders(forge, raw);
        const tampered = Buffer.from(raw);
        tampered[tampered.length - 2] = '4'.charCodeAt(0); // the 3 in [1,2,3] becomes a 4
        expect(webhookError(() => verifyWebhook(forge, headers, tampered, SECRET)).status).toBe(
          401,
        );
      });

      it('verifies the raw bytes: the same JSON re-serialized with other whitespace fails', () => {
        const headers = signatureHeaders(forge, raw);
        const reserialized = Buffer.from(JSON.stringify(payload, null, 2));
        expect(JSON.parse(reserialized.toString())).toEqual(payload);
        expect(webhookError(() => verifyWebhook(forge, headers, reserialized, SECRET)).status).toBe(
          401,
        );
      });

      it('accepts upper-case hex, which carries the same signature', () => {
        const headers = signatureHeaders(forge, raw);
        const key = Object.keys(headers)[0] ?? '';
        const upper = String(headers[key]).replace(/[0-9a-f]{64}$/, (hex) => hex.toUpperCase());
        expect(() => verifyWebhook(forge, { [key]: upper }, raw, SECRET)).not.toThrow();
      });
    },
  );

  it('accepts GitHub header names in any case, for hand-built header maps', () => {
    const [[, value]] = Object.entries(signatureHeaders('github', raw)) as [[string, string]];
    expect(() =>
      verifyWebhook('github', { 'X-Hub-Signature-256': value }, raw, SECRET),
    ).not.toThrow();
  });

  it('rejects a GitHub signature using another algorithm (sha1=)', () => {
    const error = webhookError(() =>
      verifyWebhook('github', { 'x-hub-signature-256': 'sha1=abcd' }, raw, SECRET),
    );
    expect(error.status).toBe(401);
    expect(error.message).toContain('sha256=<hex>');
  });

  it('accepts the X-Gitea-Signature that Forgejo also sends', () => {
    const gitea = signatureHeaders('gitea', raw);
    expect(() => verifyWebhook('forgejo', gitea, raw, SECRET)).not.toThrow();
  });

  it('does not let Gitea fall back to the Forgejo header', () => {
    const forgejo = signatureHeaders('forgejo', raw);
    expect(webhookError(() => verifyWebhook('gitea', forgejo, raw, SECRET)).status).toBe(401);
  });

  // GitLab's X-Gitlab-Token is a shared secret, not a signature: it authenticates the sender but
  // says nothing about the body, so integrity rests on TLS. This pins that known limitation.
  it('cannot detect a tampered GitLab body, because GitLab does not sign bodies', () => {
    const tampered = body({ ...payload, ref: 'refs/heads/evil' });
    expect(() =>
      verifyWebhook('gitlab', signatureHeaders('gitlab', raw), tampered, SECRET),
    ).not.toThrow();
  });
});
