import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { existsSync, readdirSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve } from 'node:path';

/** Where `npm run build:web` writes the web app: `dist/web`, beside `dist/apps/server/src`. */
export const WEB_APP_DIR = resolve(__dirname, '../../../web');

/** Paths the server's own routes answer: never the web app's. */
const SERVER_PATHS = /^\/(?:api|hooks|healthz|readyz)(?:\/|$)/;
/** Vite puts a content hash in every file name under `assets/`: they never change. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
// The app loads nothing but its own files and talks only to its own origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Serves the built web app at `/`: its hashed `assets/`, the files beside `index.html` (Vite's
 * `public/`: the favicon), and `index.html` for every other page path (the app routes in the
 * browser). Returns false, serving nothing, when it is not built. Runs before Nest's routes, and
 * answers only GET/HEAD outside {@link SERVER_PATHS}: an API call never waits on the disk for a
 * file that is not there, and no file of the web app can answer in a route's place.
 */
export function serveWebApp(app: NestExpressApplication, dir = WEB_APP_DIR): boolean {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    new Logger('WebApp').warn(`no web app at ${dir} (npm run build:web): serving the API only`);
    return false;
  }
  app.useStaticAssets(join(dir, 'assets'), {
    prefix: '/assets',
    index: false,
    redirect: false,
    setHeaders: (res: ServerResponse) => res.setHeader('cache-control', IMMUTABLE),
  });
  // Read once: the build writes them with the app, and a path is looked up without a disk call.
  const rootFiles = new Set(
    readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
      .map((entry) => `/${entry.name}`),
  );
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || SERVER_PATHS.test(req.path)) {
      next();
      return;
    }
    // A missing file (`/favicon.png`, `/assets/old-hash.js`) is Nest's 404, not the page.
    const file = rootFiles.has(req.path)
      ? join(dir, req.path)
      : extname(req.path) === ''
        ? index
        : undefined;
    if (file === undefined) {
      next();
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    if (file.endsWith('.html')) setPageHeaders(res);
    res.sendFile(file, (error?: Error) => {
      if (error !== undefined) next(error);
    });
  });
  return true;
}

function setPageHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'same-origin');
}
