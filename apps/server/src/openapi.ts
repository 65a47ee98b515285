import type { INestApplication } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import {
  DocumentBuilder,
  SwaggerModule,
  type OpenAPIObject,
  type OperationObject,
  type PathItemObject,
} from '@nestjs/swagger';
import { ACCESS, type Access } from './auth/access';
import { CSRF_HEADER, SESSION_COOKIE } from './auth/auth.guard';
import { ErrorResponse } from './api-errors';

/** Where the document and the browsable docs are served (plain Express routes, no sign-in). */
export const OPENAPI_JSON_PATH = '/api/openapi.json';
export const API_DOCS_PATH = '/api/docs';

/** The names of the two ways to sign in, as operations' `security` refers to them. */
export const SECURITY_SCHEMES = { token: 'token', session: 'session' } as const;

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'] as const;
const SAFE_METHODS = new Set<string>(['get', 'head', 'options']);
const JSON_MEDIA_TYPE = 'application/json';
const ERROR_SCHEMA = { $ref: `#/components/schemas/${ErrorResponse.name}` };

/** Serves the OpenAPI document and Swagger UI; the routes are Express's, so no guard runs. */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(API_DOCS_PATH, app, buildOpenApiDocument(app), {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'Kiln API',
  });
}

/**
 * The OpenAPI document of the app's routes. Each operation's security, and the errors its access
 * rule implies, come from the same `Allow` metadata the AuthGuard enforces, so the two cannot
 * disagree and no route repeats them by hand.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Kiln API')
    .setDescription(
      'Kiln, CI/CD on its own offer-based cluster. Every error answers with one shape ' +
        '(`ErrorResponse`); a 5xx carries an `errorId` that is in the server log.',
    )
    .setVersion('1')
    // addSecurity, not addBearerAuth: that one calls every bearer token a JWT.
    .addSecurity(SECURITY_SCHEMES.token, {
      type: 'http',
      scheme: 'bearer',
      description: 'A personal API token (`POST /api/v1/tokens`).',
    })
    .addCookieAuth(
      SESSION_COOKIE,
      {
        type: 'apiKey',
        in: 'cookie',
        name: SESSION_COOKIE,
        description: `The session cookie of \`POST /api/v1/session\`; writes must also send the \`${CSRF_HEADER}\` header it answered.`,
      },
      SECURITY_SCHEMES.session,
    )
    .addTag('repositories', 'Registered repositories, their build secrets and members')
    .addTag('runs', 'Runs, their jobs, and cron schedules')
    .addTag('logs', "Jobs' logs and steps; agents' log uploads")
    .addTag('accounts', 'Sessions, personal API tokens, users')
    .addTag('webhooks', "Forges' webhooks, authenticated by their signature")
    .addTag('releases', 'Environments, promotions with approvals, deployment history')
    .addTag('artifacts', "Jobs' artifacts: agents' uploads, listing and downloads")
    .addTag('audit', 'Who did what, when (administrators)')
    .addTag('cluster', "The cluster's agents")
    .addTag('health', 'Probes for orchestrators and load balancers')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: operationId,
    extraModels: [ErrorResponse],
  });
  const accesses = accessByOperationId(app);
  for (const [path, item] of Object.entries<PathItemObject>(document.paths)) {
    for (const method of OPERATION_METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const access = accesses.get(operation.operationId ?? '');
      if (access === undefined) {
        throw new Error(`${method.toUpperCase()} ${path} has no access rule`);
      }
      describeAccess(operation, access, method);
    }
  }
  return document;
}

function operationId(controllerKey: string, methodKey: string): string {
  return `${controllerKey.replace(/Controller$/, '')}_${methodKey}`;
}

/** The `Allow` rule of every handler, as the guard resolves it (the method's, else the class's). */
function accessByOperationId(app: INestApplication): Map<string, Access | undefined> {
  const reflector = app.get(Reflector);
  const scanner = new MetadataScanner();
  const accesses = new Map<string, Access | undefined>();
  for (const nestModule of app.get(ModulesContainer).values()) {
    for (const { metatype } of nestModule.controllers.values()) {
      if (typeof metatype !== 'function') continue;
      const prototype = metatype.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function') continue;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const access = reflector.getAllAndOverride<Access | undefined>(ACCESS, [handler, metatype]);
        accesses.set(operationId(metatype.name, name), access);
      }
    }
  }
  return accesses;
}

/** Security, the errors the guard and the validation pipe answer, and who may call. */
function describeAccess(operation: OperationObject, access: Access, method: string): void {
  const invalid = validatedInputs(operation);
  if (invalid.length > 0) {
    addError(
      operation,
      400,
      `The ${invalid.join(' or the ')} is invalid (unknown fields too); \`details\` names each problem`,
    );
  }
  if (access.kind === 'public') {
    delete operation.security;
    appendDescription(operation, 'Access: public, no sign-in.');
    return;
  }
  operation.security = [{ [SECURITY_SCHEMES.token]: [] }, { [SECURITY_SCHEMES.session]: [] }];
  addError(operation, 401, 'Not signed in, or the token or session is unknown or expired');
  switch (access.kind) {
    case 'user':
      appendDescription(operation, 'Access: any signed-in user.');
      break;
    case 'admin':
      appendDescription(operation, 'Access: administrators.');
      break;
    case 'repository': {
      const repository =
        access.resource === 'repository' ? 'the repository' : `the ${access.resource}'s repository`;
      appendDescription(
        operation,
        `Access: the \`${access.role}\` role or more on ${repository}; administrators.`,
      );
      addError(operation, 400, `\`${access.param}\` is not a UUID`);
      addError(
        operation,
        404,
        `The ${access.resource} does not exist, or the caller has no role on its repository`,
      );
      uuidParameter(operation, access.param);
      break;
    }
  }
  const forbidden = [
    ...(access.kind === 'admin' ? ['the caller is not an administrator'] : []),
    ...(access.kind === 'repository' ? [`the caller's role is less than \`${access.role}\``] : []),
    ...(SAFE_METHODS.has(method) ? [] : [`a session write without the \`${CSRF_HEADER}\` header`]),
  ];
  if (forbidden.length > 0) addError(operation, 403, capitalize(forbidden.join('; or ')));
}

/** What the ValidationPipe checks: a body DTO (a schema of its own), the query. */
function validatedInputs(operation: OperationObject): ('body' | 'query')[] {
  const body = operation.requestBody;
  const schema =
    body !== undefined && 'content' in body ? body.content[JSON_MEDIA_TYPE]?.schema : undefined;
  const parameters = operation.parameters ?? [];
  return [
    ...(schema !== undefined && '$ref' in schema ? (['body'] as const) : []),
    ...(parameters.some((p) => 'in' in p && p.in === 'query') ? (['query'] as const) : []),
  ];
}

/** The guard refuses anything else with 400 before looking anything up. */
function uuidParameter(operation: OperationObject, name: string): void {
  for (const parameter of operation.parameters ?? []) {
    if ('in' in parameter && parameter.in === 'path' && parameter.name === name) {
      parameter.schema = { ...parameter.schema, type: 'string', format: 'uuid' };
    }
  }
}

/** Adds a reason to a status; a route's own (its `ApiErrors`) comes first and keeps its body. */
function addError(operation: OperationObject, status: number, description: string): void {
  const key = String(status);
  const existing = operation.responses[key];
  if (existing === undefined) {
    operation.responses[key] = {
      description,
      content: { [JSON_MEDIA_TYPE]: { schema: ERROR_SCHEMA } },
    };
  } else if ('description' in existing) {
    existing.description = `${existing.description}; or ${lowerFirst(description)}`;
  }
}

function appendDescription(operation: OperationObject, text: string): void {
  operation.description =
    operation.description === undefined ? text : `${operation.description}\n\n${text}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
