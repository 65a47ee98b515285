// class-transformer's @Type, applied by @Nested, reads design-time metadata: load the polyfill here.
import 'reflect-metadata';
import Ajv, { type ErrorObject, type SchemaObject } from 'ajv';
import type { DataValidationCxt } from 'ajv/dist/types';
import { Type } from 'class-transformer';
import {
  getMetadataStorage,
  ValidateNested,
  ValidationTypes,
  type ValidationArguments,
  type ValidationOptions,
  type ValidatorConstraintInterface,
} from 'class-validator';

/*
 * A message class's class-validator decorators stay its one definition. Reflecting over them on
 * every call (class-transformer's plainToInstance, then validateSync) was a large share of the
 * master's CPU per call, so each class is read once instead: every decorator becomes the JSON
 * Schema that accepts what the decorator accepts, ajv compiles that to one function, and a
 * failure is told with the decorator's own message, so callers read the same words as before.
 */

type Class = abstract new (...args: never[]) => object;

type ValidationMetadata = ReturnType<
  ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']
>[number];

const nestedTypes = new WeakMap<object, Map<string, () => Class>>();

/**
 * A nested message (or a list of them) of the class `type` returns: class-validator's
 * `ValidateNested` and class-transformer's `Type` in one, so the nested class is named once and
 * the compiled validator can find it.
 */
export function Nested(type: () => Class, options?: ValidationOptions): PropertyDecorator {
  const validate = ValidateNested(options);
  const transform = Type(type);
  return (target: object, propertyName: string | symbol) => {
    const types = nestedTypes.get(target.constructor) ?? new Map<string, () => Class>();
    types.set(String(propertyName), type);
    nestedTypes.set(target.constructor, types);
    validate(target, propertyName);
    transform(target, propertyName);
  };
}

/** One decorator of one property: what a failure of it says, and the validator it brought. */
interface Check {
  /** Tells two checks apart when their failures are gathered. */
  readonly id: number;
  readonly className: string;
  readonly metadata: ValidationMetadata;
  readonly constraint?: ValidatorConstraintInterface;
}

/**
 * Where a schema object came from: its check, and how many levels below the property it looks
 * (1 for the items of an `each` decorator), so a failure is told at the property, as before.
 */
interface Owner {
  readonly check: Check;
  readonly depth: number;
}

/** The plain JSON in, the problems found, each `path: problem`; none means valid. */
export type MessageValidator = (json: object) => string[];

// Functions the schemas call by number: ValidateIf conditions and custom validators that JSON
// Schema cannot say (an artifact name's rules, the port ranges' order). Ajv calls them directly.
type Call = (data: unknown, parent: unknown) => boolean;
const calls: Call[] = [];
const CALL_KEYWORD = 'kilnCall';

let checkCount = 0;
const owners = new WeakMap<object, Owner>();
/** For a schema with `required`: the checks that fail when that property is missing. */
const missingChecks = new WeakMap<object, Map<string, Check[]>>();

const ajv = new Ajv({
  allErrors: true,
  // parentSchema on each error leads back to its check; read only when a message is invalid.
  verbose: true,
  // class-validator's `Matches` runs the pattern as JavaScript writes it, without the u flag.
  unicodeRegExp: false,
  strict: true,
});
ajv.addKeyword({
  keyword: CALL_KEYWORD,
  schemaType: 'number',
  errors: false,
  validate: (id: number, data: unknown, _schema?: unknown, cxt?: DataValidationCxt) =>
    (calls[id] ?? fail(`no call ${id}`))(data, cxt?.parentData),
});

function fail(why: string): never {
  throw new Error(`message validator: ${why}`);
}

function call(fn: Call): SchemaObject {
  calls.push(fn);
  return { [CALL_KEYWORD]: calls.length - 1 };
}

/** The id under which each class's schema was added to {@link ajv}, shared by every message. */
const schemaIds = new Map<Class, string>();

/**
 * Compiles the validator of a message class. Each class is compiled once, however many messages
 * nest it (a TaskInfo), and stays compiled: the classes are few and live as long as the process.
 */
export function compileMessageValidator(cls: Class): MessageValidator {
  const validate = ajv.compile(schemaRef(cls));
  return (json) => (validate(json) ? [] : problems(json, validate.errors ?? []));
}

function schemaRef(cls: Class): SchemaObject {
  let id = schemaIds.get(cls);
  if (id === undefined) {
    const taken = new Set(schemaIds.values());
    id = `kiln:${cls.name}`;
    for (let i = 2; taken.has(id); i++) id = `kiln:${cls.name}${i}`;
    // Named before its schema is built, so a class that nests itself refers to its own id.
    schemaIds.set(cls, id);
    try {
      ajv.addSchema(classSchema(cls), id);
    } catch (error) {
      // A class that cannot be compiled must not leave a reference to nothing behind.
      schemaIds.delete(cls);
      throw error;
    }
  }
  return { $ref: id };
}

function classSchema(cls: Class): SchemaObject {
  const storage = getMetadataStorage();
  // The options validateSync runs with: no groups, `always` unset.
  const byProperty = storage.groupByPropertyName(
    storage.getTargetValidationMetadatas(cls, '', false, false),
  );
  const properties: Record<string, SchemaObject | boolean> = {};
  const required: string[] = [];
  const conditional: SchemaObject[] = [];
  const missing = new Map<string, Check[]>();
  for (const [property, metadatas] of Object.entries(byProperty)) {
    // Every property with a decorator is allowed; one with no checks (IsOptional alone) takes
    // anything, as whitelisting does.
    properties[property] = true;
    const checks: Check[] = [];
    const schemas: SchemaObject[] = [];
    const conditions: ValidationMetadata[] = [];
    let optional = false;
    for (const metadata of metadatas) {
      if (metadata.validateIf !== undefined) {
        fail(`${cls.name}.${property}: the validateIf option is not supported; use @ValidateIf`);
      }
      switch (metadata.type) {
        case ValidationTypes.CONDITIONAL_VALIDATION:
          if (metadata.name === 'isOptional') optional = true;
          else conditions.push(metadata);
          break;
        case ValidationTypes.IS_DEFINED:
        case ValidationTypes.CUSTOM_VALIDATION: {
          const check: Check = {
            id: checkCount++,
            className: cls.name,
            metadata,
            constraint: constraintOf(metadata),
          };
          checks.push(check);
          schemas.push(constraintSchema(check));
          break;
        }
        case ValidationTypes.NESTED_VALIDATION:
          schemas.push(nestedSchema(cls, metadata));
          break;
        case ValidationTypes.WHITELIST:
          break;
        default:
          fail(`${cls.name}.${property}: ${metadata.type} validation is not supported`);
      }
    }
    if (schemas.length === 0) continue;
    const all: SchemaObject =
      schemas.length === 1 ? (schemas[0] as SchemaObject) : { allOf: schemas };
    // IsOptional skips every check on null as well as on a missing value.
    const value: SchemaObject = optional ? { if: { type: 'null' }, else: all } : all;
    // What a missing property fails: the checks that refuse `undefined` (nested ones skip it).
    const failsMissing = optional ? [] : checks.filter((check) => !runCheck(check, undefined, {}));
    if (conditions.length === 0) {
      properties[property] = value;
      if (failsMissing.length > 0) {
        required.push(property);
        missing.set(property, failsMissing);
      }
      continue;
    }
    // ValidateIf: the property is checked only when every condition holds on its object.
    const then: SchemaObject = { type: 'object', properties: { [property]: value } };
    if (failsMissing.length > 0) {
      then['required'] = [property];
      missingChecks.set(then, new Map([[property, failsMissing]]));
    }
    const condition = call(
      (object) =>
        typeof object === 'object' &&
        object !== null &&
        conditions.every((c) =>
          (c.constraints[0] as (o: unknown, v: unknown) => boolean)(
            object,
            (object as Record<string, unknown>)[property],
          ),
        ),
    );
    conditional.push({ if: condition, then });
  }
  const schema: SchemaObject = { type: 'object', properties, additionalProperties: false };
  if (required.length > 0) {
    schema['required'] = required;
    missingChecks.set(schema, missing);
  }
  if (conditional.length > 0) schema['allOf'] = conditional;
  return schema;
}

function constraintOf(metadata: ValidationMetadata): ValidatorConstraintInterface {
  const [constraint] = getMetadataStorage().getTargetValidatorConstraints(metadata.constraintCls);
  return constraint?.instance ?? fail(`no validator for ${metadata.propertyName}`);
}

function constraintName(metadata: ValidationMetadata): string | undefined {
  return getMetadataStorage().getTargetValidatorConstraints(metadata.constraintCls)[0]?.name;
}

/**
 * What class-validator's built-in decorators accept, as JSON Schema. Each accepts exactly the
 * values the decorator's own function does on JSON (JSON has no NaN, Infinity or boxed values),
 * with one difference: `maxLength` counts code points, where class-validator also leaves out
 * emoji variation selectors. A decorator not here (or with options not here) is run as it is.
 */
const BUILT_INS: Record<string, (constraints: unknown[]) => SchemaObject | undefined> = {
  isDefined: () => ({ not: { type: 'null' } }),
  isString: () => ({ type: 'string' }),
  isBoolean: () => ({ type: 'boolean' }),
  isInt: () => ({ type: 'integer' }),
  isNumber: ([options]) => (isEmptyNumberOptions(options) ? { type: 'number' } : undefined),
  isArray: () => ({ type: 'array' }),
  isIn: ([values]) =>
    Array.isArray(values) && values.every((v) => typeof v === 'string' || typeof v === 'number')
      ? { enum: values }
      : undefined,
  min: ([min]) => (typeof min === 'number' ? { type: 'number', minimum: min } : undefined),
  max: ([max]) => (typeof max === 'number' ? { type: 'number', maximum: max } : undefined),
  maxLength: ([max]) => (typeof max === 'number' ? { type: 'string', maxLength: max } : undefined),
  minLength: ([min]) => (typeof min === 'number' ? { type: 'string', minLength: min } : undefined),
  arrayMaxSize: ([max]) => (typeof max === 'number' ? { type: 'array', maxItems: max } : undefined),
  arrayMinSize: ([min]) => (typeof min === 'number' ? { type: 'array', minItems: min } : undefined),
  matches: ([pattern, modifiers]) =>
    pattern instanceof RegExp && pattern.flags === '' && modifiers === undefined
      ? { type: 'string', pattern: pattern.source }
      : undefined,
};

/** Options of IsNumber that JSON's numbers always meet: finite, any number of decimals. */
function isEmptyNumberOptions(options: unknown): boolean {
  if (typeof options !== 'object' || options === null) return options === undefined;
  const { allowNaN, allowInfinity, maxDecimalPlaces, ...rest } = options as Record<string, unknown>;
  return (
    allowNaN !== true &&
    allowInfinity !== true &&
    maxDecimalPlaces === undefined &&
    Object.keys(rest).length === 0
  );
}

function constraintSchema(check: Check): SchemaObject {
  const { metadata } = check;
  const name =
    metadata.type === ValidationTypes.IS_DEFINED ? 'isDefined' : constraintName(metadata);
  const builtIn = name === undefined ? undefined : BUILT_INS[name];
  const single = (depth: number): SchemaObject =>
    own(
      builtIn?.(metadata.constraints ?? []) ??
        call((value, parent) => runCheck(check, value, parent)),
      check,
      depth,
    );
  // `each`: every item of an array, or the value itself when it is not one (class-validator's rule).
  return metadata.each
    ? { if: { type: 'array' }, then: { type: 'array', items: single(1) }, else: single(0) }
    : single(0);
}

/**
 * ValidateNested: an object is validated as the nested class, an array item by item; anything
 * else fails with the decorator's message ("nested property … must be either object or array").
 */
function nestedSchema(cls: Class, metadata: ValidationMetadata): SchemaObject {
  const type =
    nestedTypeOf(cls, metadata.propertyName) ??
    fail(`${cls.name}.${metadata.propertyName}: use @Nested(() => Class) to name its class`);
  const check: Check = { id: checkCount++, className: cls.name, metadata };
  const object = (): SchemaObject => ({
    allOf: [own({ type: 'object' }, check, 0), schemaRef(type())],
  });
  return { if: { type: 'array' }, then: { type: 'array', items: object() }, else: object() };
}

function nestedTypeOf(cls: Class, property: string): (() => Class) | undefined {
  // A subclass inherits its parents' nested properties, as it inherits their decorators.
  for (let c: unknown = cls; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    const type = nestedTypes.get(c)?.get(property);
    if (type !== undefined) return type;
  }
  return undefined;
}

function own(schema: SchemaObject, check: Check, depth: number): SchemaObject {
  owners.set(schema, { check, depth });
  return schema;
}

function argumentsOf(check: Check, value: unknown, object: unknown): ValidationArguments {
  return {
    targetName: check.className,
    property: check.metadata.propertyName,
    object: object as object,
    value,
    constraints: check.metadata.constraints ?? [],
  };
}

function runCheck(check: Check, value: unknown, object: unknown): boolean {
  const valid = check.constraint?.validate(value, argumentsOf(check, value, object));
  if (valid instanceof Promise)
    fail(`${check.metadata.propertyName}: async validators are not supported`);
  return valid === true;
}

// ---- Errors: ajv's back to the decorators' messages ---------------------------------------------

function problems(json: object, errors: readonly ErrorObject[]): string[] {
  const found = new Map<string, string>();
  const add = (path: string[], check: Check): void => {
    const key = `${path.join('\u0000')}\u0001${check.id}`;
    if (found.has(key)) return;
    const value = at(json, path);
    const object = at(json, path.slice(0, -1));
    found.set(key, problem(path, messageOf(check, value, object)));
  };
  for (const error of errors) {
    const path = pathOf(error.instancePath);
    if (error.keyword === 'additionalProperties') {
      const { additionalProperty } = error.params as { additionalProperty: string };
      const full = [...path, additionalProperty];
      found.set(
        full.join('\u0000'),
        problem(full, `property ${additionalProperty} should not exist`),
      );
      continue;
    }
    if (error.keyword === 'required') {
      const { missingProperty } = error.params as { missingProperty: string };
      const checks = missingChecks.get(error.parentSchema ?? {})?.get(missingProperty) ?? [];
      for (const check of checks) add([...path, missingProperty], check);
      continue;
    }
    const owner = owners.get(error.parentSchema ?? {});
    if (owner === undefined) continue; // the schema's plumbing (if, allOf, $ref): told by its parts
    add(path.slice(0, path.length - owner.depth), owner.check);
  }
  // Every failure has a check above; should one not, the caller still learns what ajv saw.
  if (found.size === 0) {
    return errors.map((e) => `${pathOf(e.instancePath).join('.')}: ${e.message ?? e.keyword}`);
  }
  return [...found.values()];
}

function pathOf(instancePath: string): string[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function at(json: unknown, path: readonly string[]): unknown {
  let value = json;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** `parent.property message` when the message starts with the property's name, else `path: message`. */
function problem(path: readonly string[], message: string): string {
  const property = path[path.length - 1] ?? '';
  const parent = path.slice(0, -1).join('.');
  return message.startsWith(property)
    ? `${parent === '' ? '' : `${parent}.`}${message}`
    : `${path.join('.')}: ${message}`;
}

/** The message class-validator would give, its `$property`-style tokens filled in. */
function messageOf(check: Check, value: unknown, object: unknown): string {
  const args = argumentsOf(check, value, object);
  const { message } = check.metadata;
  const text =
    typeof message === 'function'
      ? message(args)
      : message || (check.constraint?.defaultMessage?.(args) ?? `${args.property} is invalid`);
  return fillTokens(text, args);
}

function fillTokens(text: string, args: ValidationArguments): string {
  // Replacer functions, so a `$&` in a pattern or a value is copied, not read as a back-reference.
  let filled = text;
  args.constraints.forEach((constraint: unknown, i) => {
    filled = filled.replaceAll(`$constraint${i + 1}`, () => constraintText(constraint));
  });
  if (['string', 'boolean', 'number'].includes(typeof args.value)) {
    filled = filled.replaceAll('$value', () => String(args.value));
  }
  return filled
    .replaceAll('$property', () => args.property)
    .replaceAll('$target', () => args.targetName);
}

function constraintText(constraint: unknown): string {
  if (Array.isArray(constraint)) return constraint.join(', ');
  if (typeof constraint === 'symbol') return constraint.description ?? '';
  return String(constraint);
}
