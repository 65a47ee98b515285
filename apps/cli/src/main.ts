#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from './program';

/** The version of the package this file is part of, from source or from `dist/`. */
function version(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'kiln' && pkg.version !== undefined) return pkg.version;
    } catch {
      // Not here: look one level up.
    }
  }
  return 'unknown';
}

// A reader that went away (`kiln logs … | head`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  now: () => new Date(),
  sleep: (ms) => sleep(ms),
  version: version(),
}).then((code) => {
  // Set, not process.exit(): what is still buffered for stdout gets written first.
  process.exitCode = code;
});
