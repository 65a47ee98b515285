import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
} from 'yaml';
import type { PipelineProblem } from './errors';

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
    // prettyErrors off: we want the bare message, and compute the position with our own counter.
    const doc = parseDocument(source, { lineCounter: this.lineCounter, prettyErrors: false });
    for (const error of [...doc.errors]) {
      this.syntaxProblems.push({
        ...this.position(error.pos[0]),
        path: '',
        message: error.message,
      });
    }
    this.nodes.set('', { value: doc.contents?.range[0] ?? 0 });
    if (doc.contents !== null) this.index(doc.contents, []);
    this.value = this.syntaxProblems.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined;
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
