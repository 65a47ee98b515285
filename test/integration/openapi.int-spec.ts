import SwaggerParser from '@apidevtools/swagger-parser';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { OpenAPIObject, OperationObject, PathItemObject } from '@nestjs/swagger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePipeline } from '@kiln/pipeline';
import { ACCESS, type Access } from '../../apps/server/src/auth/access';
import { API_DOCS_PATH, OPENAPI_JSON_PATH, setupOpenApi } from '../../apps/server/src/openapi';
import { DOCUMENT_FILE, documentText, ROOT } from '../../scripts/api-types/generate';
import { startServerApp, type ServerApp } from './support/server-app';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'] as const;

/** The OpenAPI document as the server serves it, checked against the router and the guard's rules. */
describe('OpenAPI document', () => {
  let server: ServerApp;
  let app: NestExpressApplication;
  let url: string;
  let document: OpenAPIObject;

  beforeAll(async () => {
    server = await startServerApp({ configure: setupOpenApi });
    ({ app, url } = server);
  }, 60_000);

  afterAll(() => server?.close());

  /** Every operation of the document as `METHOD /path/:param`, the router's way of writing it. */
  function operations(): Map<string, OperationObject> {
    const found = new Map<string, OperationObject>();
    for (const [path, item] of Object.entries<PathItemObject>(document.paths)) {
      for (const method of METHODS) {
        const operation = item[method];
        if (operation === undefined) continue;
        found.set(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`, operation);
      }
    }
    return found;
  }

  it('is served without a token and is a valid OpenAPI 3 document', async () => {
    const res = await fetch(`${url}${OPENAPI_JSON_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await res.json()) as OpenAPIObject;
    expect(document.openapi).toMatch(/^3\./);
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  // `npm run api:generate` builds it without running the server (Nest's preview mode): the same.
  it("is docs/openapi.json, from which the clients' types are generated", () => {
    expect(documentText(document)).toBe(readFileSync(join(ROOT, DOCUMENT_FILE), 'utf8'));
  });

  it("describes a job's plan field by field, as the pipeline compiler makes it", () => {
    const schema = document.components?.schemas?.JobPlanResponse as
      { properties?: Record<string, unknown>; required?: string[] } | undefined;
    const plan = compilePipeline(
      [
        'jobs:',
        '  build:',
        '    image: gcc:13',
        '    matrix: { cc: [gcc, clang] }',
        '    steps: [{ run: make }]',
        '  test:',
        '    needs: [build]',
        '    steps: [{ run: make test }]',
      ].join('\n'),
      { event: 'push', branch: 'main' },
    );
    if (!('jobs' in plan)) throw new Error('the pipeline was skipped');
    const documented = Object.keys(schema?.properties ?? {}).sort();
    for (const job of plan.jobs) {
      expect(Object.keys(job).filter((field) => !documented.includes(field))).toEqual([]);
      expect((schema?.required ?? []).filter((field) => !(field in job))).toEqual([]);
    }
    expect(documented).toContain('matrix');
  });

  it('has every route of the router, and nothing else', () => {
    const router = (app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router;
    const routes = router.stack
      .filter((layer) => layer.route !== undefined)
      .map((layer) => layer.route!)
      // Nest's catch-all (for its 404 answer), and the document's and Swagger UI's own routes.
      .filter(({ path }) => !path.includes('{*') && !isDocsRoute(path))
      .flatMap(({ path, methods }) =>
        Object.keys(methods)
          .filter((m) => m !== '_all')
          .map((m) => `${m.toUpperCase()} ${asParams(path)}`),
      );
    expect(routes.length).toBeGreaterThan(30);
    expect([...operations().keys()].sort()).toEqual([...new Set(routes)].sort());
  });

  it('asks for a token or a session exactly where the route is not Allow.public()', () => {
    const documented = operations();
    const rules = accessRules(app);
    expect(rules.size).toBe(documented.size);
    for (const [route, access] of rules) {
      const operation = documented.get(route);
      expect(operation, route).toBeDefined();
      if (access.kind === 'public') {
        expect(operation!.security ?? [], route).toEqual([]);
      } else {
        expect(operation!.security, route).toEqual([{ token: [] }, { session: [] }]);
        expect(operation!.responses['401'], route).toBeDefined();
      }
    }
    expect(Object.keys(document.components?.securitySchemes ?? {}).sort()).toEqual([
      'session',
      'token',
    ]);
  });

  it('answers every error with the one ErrorResponse shape', () => {
    const ref = '#/components/schemas/ErrorResponse';
    for (const [route, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        // The log upload's 409 answers the offset it expects, not an error body.
        if (!/^4\d\d$/.test(status) || route === 'POST /api/v1/tasks/:taskId/logs') continue;
        const schema = (response as { content?: Record<string, { schema?: unknown }> }).content?.[
          'application/json'
        ]?.schema;
        expect(schema, `${route} ${status}`).toEqual({ $ref: ref });
      }
    }
    expect(document.components?.schemas?.ErrorResponse).toBeDefined();
  });

  it('serves the browsable docs without a token', async () => {
    const res = await fetch(`${url}${API_DOCS_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('swagger-ui');
    const init = await fetch(`${url}${API_DOCS_PATH}/swagger-ui-init.js`);
    expect(init.status).toBe(200);
  });
});

/** A route path with its wildcard (`*path`) written as a parameter, as the document has it. */
function asParams(path: string): string {
  return path.replace(/\*(\w+)/g, ':$1');
}

function isDocsRoute(path: string): boolean {
  return (
    path === OPENAPI_JSON_PATH || path === API_DOCS_PATH || path.startsWith(`${API_DOCS_PATH}/`)
  );
}

/**
 * Each handler's `Allow` rule as the guard resolves it, keyed `METHOD /path` from Nest's own route
 * metadata: independent of how openapi.ts finds them.
 */
function accessRules(app: NestExpressApplication): Map<string, Access> {
  const reflector = app.get(Reflector);
  const scanner = new MetadataScanner();
  const rules = new Map<string, Access>();
  for (const nestModule of app.get(ModulesContainer).values()) {
    for (const { metatype } of nestModule.controllers.values()) {
      if (typeof metatype !== 'function') continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
      const prototype = metatype.prototype as Record<string, () => unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name]!;
        const path: unknown = Reflect.getMetadata(PATH_METADATA, handler);
        if (typeof path !== 'string') continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const full = `/${[base, path].filter((p) => p !== '' && p !== '/').join('/')}`;
        const access = reflector.getAllAndOverride<Access>(ACCESS, [handler, metatype]);
        rules.set(`${method} ${asParams(full)}`, access);
      }
    }
  }
  return rules;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}
