/*
 * `npm run api:generate`: writes docs/openapi.json and libs/api-types/src/openapi.ts.
 * `npm run api:check`: writes nothing; exits 1 naming each stale file and each client's
 * hand-written copy of a generated type.
 *
 * Run by vite-node with the tests' config: SWC compiles the server's code, because esbuild (tsx)
 * emits no decorator metadata and @nestjs/swagger reads each DTO field's type from it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientCopies, generatedFiles, ROOT, serverDocument, staleFiles } from './generate';

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const document = await serverDocument();
  const files = await generatedFiles(document);
  if (!check) {
    for (const [path, text] of files) writeFileSync(join(ROOT, path), text);
    return 0;
  }
  const problems = [
    ...staleFiles(files).map(
      (path) => `${path} is not what the server's code generates: run npm run api:generate`,
    ),
    ...clientCopies(document).map(
      ({ path, line, name, copies }) =>
        `${path}:${line}: ${name} copies the generated ${copies}: ` +
        `import it from @kiln/api-types instead (Schemas['${copies}'])`,
    ),
  ];
  for (const problem of problems) process.stderr.write(`api:check: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `api-types: ${error instanceof Error ? (error.stack ?? String(error)) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
