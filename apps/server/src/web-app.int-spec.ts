import { runHttpApp } from '@kiln/common';
import { Controller, Get, Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveWebApp } from './web-app';

@Controller()
class RoutesController {
  @Get('healthz')
  healthz(): { from: string } {
    return { from: 'route' };
  }

  @Get('api/v1/things')
  things(): { from: string } {
    return { from: 'route' };
  }
}

@Module({ controllers: [RoutesController] })
class RoutesModule {}

describe('the web app beside the API', () => {
  let dir: string;
  let app: NestExpressApplication;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-web-app-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<html>the page</html>');
    writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'the script');
    // Files a build could hold under the names of the server's own routes.
    writeFileSync(join(dir, 'healthz'), 'a file');
    mkdirSync(join(dir, 'api', 'v1'), { recursive: true });
    writeFileSync(join(dir, 'api', 'v1', 'things'), 'a file');
    app = await runHttpApp({
      name: 'web-app-test',
      logLevel: 'warn',
      module: RoutesModule,
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 1_000,
      configure: (nest) => {
        serveWebApp(nest, dir);
      },
    });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a page path with index.html and the page headers', async () => {
    const res = await fetch(`${url}/runs/42`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<html>the page</html>');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('serves hashed assets as immutable and the files beside index.html as no-cache', async () => {
    const asset = await fetch(`${url}/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toBe('the script');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const icon = await fetch(`${url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(await icon.text()).toBe('<svg/>');
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers a missing file with 404, not the page', async () => {
    for (const path of ['/assets/index-old.js', '/favicon.png']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toContain('the page');
    }
  });

  it("never lets a file of the web app answer in a server route's place", async () => {
    for (const path of ['/healthz', '/api/v1/things']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.json(), path).toEqual({ from: 'route' });
    }
  });

  it('leaves other methods to the routes', async () => {
    const res = await fetch(`${url}/runs/42`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('the page');
  });
});
