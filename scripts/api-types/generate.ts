/*
 * The API's types, generated from the server's OpenAPI document. `npm run api:generate` writes
 * the files below; `npm run api:check` (part of `npm run check`) fails when one is stale or when
 * a client declares by hand a type the document defines.
 */
import 'reflect-metadata';
import { loadEnv, ServerEnv } from '@kiln/config';
import { NestFactory } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { AppModule } from '../../apps/server/src/app.module';
import { buildOpenApiDocument } from '../../apps/server/src/openapi';
import { handWrittenCopies, type HandWrittenCopy, type SchemaOutline } from './copies';

export const ROOT = resolve(__dirname, '../..');

/** The generated files, relative to the repository's root. */
export const DOCUMENT_FILE = 'docs/openapi.json';
export const TYPES_FILE = 'libs/api-types/src/openapi.ts';

/** Where the API's clients live: no type of the document may be declared there by hand. */
export const CLIENT_DIRS = ['apps/web/src', 'apps/cli/src'];

const TYPES_HEADER =
  "// Generated from the server's OpenAPI document (docs/openapi.json) by `npm run api:generate`:\n" +
  '// do not edit. `npm run api:check` fails when it is stale. Friendly names are in ./index.ts.\n\n';

/**
 * The document as the running server serves it (`setupOpenApi`), from the same modules, without
 * running the server: in preview mode Nest reads the modules, the controllers and their metadata
 * but instantiates no provider, so neither the database nor Redis is opened.
 * `AppModule.forRoot` itself still writes key files into its data directory: a temporary one.
 */
export async function serverDocument(): Promise<OpenAPIObject> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-api-generate-'));
  try {
    const env = loadEnv(ServerEnv, {
      KILN_DATA_DIR: dataDir,
      KILN_CLUSTER_TOKEN: 'api-generate-cluster-token',
      KILN_LOG_LEVEL: 'error',
    });
    const app = await NestFactory.create(AppModule.forRoot(env), {
      preview: true,
      logger: false,
      abortOnError: false,
    });
    try {
      return buildOpenApiDocument(app);
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Object keys sorted at every depth (arrays keep their order: an enum's values, `required`), so
 * the file changes only when the API does, not when a module or a DTO's field moves.
 */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, item]) => [key, sortKeys(item)]),
  );
}

/** The document as docs/openapi.json holds it: sorted, one value a line. */
export function documentText(document: OpenAPIObject): string {
  return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}

/** The generated files' contents, keyed by their path relative to the root. */
export async function generatedFiles(document: OpenAPIObject): Promise<Map<string, string>> {
  const json = documentText(document);
  // The types are made from the document as the file holds it, nothing else.
  const types = astToString(
    await openapiTS(JSON.parse(json) as OpenAPI3, {
      // A field with a default is optional in a request: the server fills it in.
      defaultNonNullable: false,
      // Each enumeration's values as an array too (`runStateValues`): the web app's pickers.
      enumValues: true,
    }),
  );
  return new Map([
    [DOCUMENT_FILE, json],
    [TYPES_FILE, `${TYPES_HEADER}${types}`],
  ]);
}

/** The files of `files` whose content on disk differs (or which are missing). */
export function staleFiles(files: ReadonlyMap<string, string>, root = ROOT): string[] {
  return [...files]
    .filter(([path, text]) => readOrUndefined(join(root, path)) !== text)
    .map(([path]) => path);
}

/** The clients' hand-written copies of the document's schemas (specs and tests excluded). */
export function clientCopies(document: OpenAPIObject, root = ROOT): HandWrittenCopy[] {
  const schemas = (document.components?.schemas ?? {}) as Record<string, SchemaOutline>;
  const files = CLIENT_DIRS.flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
      .filter((path) => /\.tsx?$/.test(path) && !/\.spec\.tsx?$/.test(path))
      .map((path) => ({
        path: join(dir, path),
        text: readFileSync(join(root, dir, path), 'utf8'),
      })),
  );
  return handWrittenCopies(files, schemas);
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
