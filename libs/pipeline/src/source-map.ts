import {
  Composer,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  YAMLParseError,
  visit,
  type CST,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import type { PipelineProblem } from './errors';

/**
 * How deep mappings and lists may nest, counting the document itself. A pipeline needs about six
 * levels (`jobs.build.when.branch[0]`); the YAML composer, class-transformer and the checks all
 * recurse, so a file nested a few thousand levels deep would otherwise end in a stack overflow.
 */
export const MAX_NESTING = 32;
/**
 * Items of one mapping or list. A pipeline's longest is its jobs (200 at most, matrix included);
 * the YAML composer checks each key of a mapping against every key before it, so one mapping of
 * the 70,000 variables a 1 MiB file holds took the server's event loop for most of a minute.
 */
export const MAX_COLLECTION_ITEMS = 1000;
/** Alias expansions allowed, so a "billion laughs" file cannot blow up into gigabytes. */
export const MAX_ALIAS_COUNT = 100;

/** A path into the document: mapping keys and sequence indexes, e.g. `['jobs', 'build', 'needs', 0]`. */
export type Path = readonly (string | number)[];

interface Located {
  /** Offset of the key in its mapping (absent for sequence items and the root). */
  key?: number;
  /** Offset of the value node (absent for `key:` with nothing after it). */
  value?: number;
  /** The original text of a scalar value, so `1.10` is not turned into `1.1`. */
  source?: string;
}

/** `jobs.build.steps[0].run`: the way users write paths in other CI tools' errors. */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/**
 * The parsed file plus where each of its nodes is. Validation works on plain JS values; this maps
 * a path in those values back to a line and column, which is what makes the errors actionable.
 */
export class SourceMap {
  private readonly nodes = new Map<string, Located>();
  private readonly lineCounter = new LineCounter();
  readonly value: unknown;
  readonly syntaxProblems: PipelineProblem[] = [];

  constructor(source: string) {
    // The parser makes its tokens without recursing, so the nesting is checked on them before
    // the composer and everything after it, which recurse, see it. The line counter is filled by
    // this one pass only: a second would count every line twice.
    const tokens = Array.from(new Parser(this.lineCounter.addNewLine).parse(source));
    const tooBig = oversizedCollection(tokens);
    if (tooBig !== undefined) {
      this.syntaxProblems.push({
        ...this.position(tooBig.offset),
        path: '',
        message: tooBig.message,
      });
      this.value = undefined;
      return;
    }
    const doc = firstDocument(tokens, source);
    for (const error of [...doc.errors]) {
      this.syntaxProblems.push({
        ...this.position(error.pos[0]),
        path: '',
        message: error.message,
      });
    }
    this.nodes.set('', { value: doc.contents?.range[0] ?? 0 });
    if (doc.contents !== null) this.index(doc.contents, []);
    this.value = this.syntaxProblems.length === 0 ? this.toJS(doc) : undefined;
  }

  /**
   * The document as plain values, unless its aliases expand too much or nest too deep (an alias
   * inside the node its anchor names nests for ever): then a problem at the alias instead.
   */
  private toJS(doc: Document): unknown {
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      // yaml throws a ReferenceError for an alias bomb; it says where in no way we can use.
      const message = error instanceof Error ? error.message : String(error);
      this.syntaxProblems.push({
        ...this.position(firstAlias(doc) ?? 0),
        path: '',
        message: `${message} (at most ${MAX_ALIAS_COUNT} alias expansions)`,
      });
      return undefined;
    }
    let tooDeep = deepestValue(value);
    if (tooDeep === undefined) return value;
    // The path leaves the written nodes at the alias: it is shown there.
    while (tooDeep.length > 0 && !this.nodes.has(formatPath(tooDeep))) {
      tooDeep = tooDeep.slice(0, -1);
    }
    this.syntaxProblems.push(
      this.problem(
        tooDeep,
        `nested deeper than ${MAX_NESTING} levels through aliases (an alias inside the node its anchor names repeats for ever)`,
      ),
    );
    return undefined;
  }

  /** The original text of the scalar at `path`, if there is one there. */
  sourceText(path: Path): string | undefined {
    return this.nodes.get(formatPath(path))?.source;
  }

  /**
   * The position of the value at `path`. A path with no node (a missing required key, a value
   * reached through an alias) falls back to its nearest ancestor, preferring that ancestor's key.
   */
  locate(path: Path, at: 'key' | 'value' = 'value'): { line: number; column: number } {
    const node = this.nodes.get(formatPath(path));
    const offset = at === 'key' ? (node?.key ?? node?.value) : (node?.value ?? node?.key);
    if (offset !== undefined) return this.position(offset);
    if (path.length === 0) return { line: 1, column: 1 };
    // A missing key is best shown at its mapping's own key (`build:` lacks `steps`); a missing
    // item at the value that stands for the list (`needs: a` written without brackets).
    return this.locate(
      path.slice(0, -1),
      typeof path[path.length - 1] === 'number' ? 'value' : 'key',
    );
  }

  problem(path: Path, message: string, at: 'key' | 'value' = 'value'): PipelineProblem {
    // A trailing index is dropped from the displayed path: the message quotes the item and the
    // position points at it, so `jobs.build.needs: unknown job "lnt"` reads better than `[2]`.
    const shown = typeof path[path.length - 1] === 'number' ? path.slice(0, -1) : path;
    return { ...this.locate(path, at), path: formatPath(shown), message };
  }

  private position(offset: number): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  private index(node: YamlNode, path: Path): void {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? pair.key.value : undefined;
        if (typeof key !== 'string' && typeof key !== 'number') continue;
        const childPath = [...path, String(key)];
        const value = pair.value as YamlNode | null;
        this.nodes.set(formatPath(childPath), {
          key: (pair.key as YamlNode).range?.[0],
          value: value?.range?.[0],
          source: isScalar(value) ? value.source : undefined,
        });
        if (value !== null) this.index(value, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const child = item as YamlNode | null;
        if (child === null) return;
        const childPath = [...path, i];
        this.nodes.set(formatPath(childPath), {
          value: child.range?.[0],
          source: isScalar(child) ? child.source : undefined,
        });
        this.index(child, childPath);
      });
    }
  }
}

/**
 * The first document of the parser's tokens, as `parseDocument` makes it (a second document is an
 * error), from the tokens already made: parsing a file twice cost as much as everything else that
 * is done with it (a second of the event loop on a file of 1 MiB of short lines).
 */
function firstDocument(tokens: CST.Token[], source: string): Document.Parsed {
  // prettyErrors off: we want the bare message, and compute the position with our own counter.
  const composer = new Composer({ prettyErrors: false });
  let first: Document.Parsed | undefined;
  for (const doc of composer.compose(tokens, true, source.length)) {
    if (first === undefined) {
      first = doc;
      continue;
    }
    first.errors.push(
      new YAMLParseError(
        [doc.range[0], doc.range[1]],
        'MULTIPLE_DOCS',
        'a second YAML document (after `---`): the file must hold one',
      ),
    );
    break;
  }
  // compose(…, true, …) ends with a document, an empty one for an empty source.
  if (first === undefined) throw new Error('the YAML composer made no document');
  return first;
}

/**
 * The first mapping or list in the parser's tokens nested deeper than {@link MAX_NESTING} or
 * holding more than {@link MAX_COLLECTION_ITEMS} items, with what is wrong with it; or undefined.
 * Iterative on purpose: the point is not to recurse as deep as the file.
 */
function oversizedCollection(tokens: CST.Token[]): { offset: number; message: string } | undefined {
  const pending: [CST.Token, number][] = tokens.map((token) => [token, 0]);
  let first: { offset: number; message: string } | undefined;
  const found = (offset: number, message: string): void => {
    if (first === undefined || offset < first.offset) first = { offset, message };
  };
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [token, depth] = next;
    if (token.type === 'document') {
      if (token.value !== undefined) pending.push([token.value, depth]);
    } else if (
      token.type === 'block-map' ||
      token.type === 'block-seq' ||
      token.type === 'flow-collection'
    ) {
      if (depth >= MAX_NESTING) {
        found(token.offset, `nested deeper than ${MAX_NESTING} levels`);
        continue;
      }
      if (token.items.length > MAX_COLLECTION_ITEMS) {
        const list =
          token.type === 'block-seq' ||
          (token.type === 'flow-collection' && token.start.source === '[');
        found(
          token.offset,
          `a ${list ? 'list' : 'mapping'} of more than ${MAX_COLLECTION_ITEMS} items`,
        );
        continue;
      }
      for (const item of token.items) {
        // A key can be a collection too (`? [a, b]`).
        if (item.key) pending.push([item.key, depth + 1]);
        if (item.value !== undefined) pending.push([item.value, depth + 1]);
      }
    }
  }
  return first;
}

/** The path of a value nested deeper than {@link MAX_NESTING}, or undefined. Iterative too. */
function deepestValue(root: unknown): Path | undefined {
  const pending: [unknown, Path][] = [[root, []]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, path] = next;
    if (typeof value !== 'object' || value === null) continue;
    if (path.length >= MAX_NESTING) return path;
    const children: [string | number, unknown][] = Array.isArray(value)
      ? value.map((item, i): [number, unknown] => [i, item])
      : Object.entries(value);
    for (const [key, child] of children) pending.push([child, [...path, key]]);
  }
  return undefined;
}

function firstAlias(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}
