/** A declaration in a client of a type that the OpenAPI document already defines. */
export interface HandWrittenCopy {
  path: string;
  line: number;
  name: string;
  /** The generated schema it copies. */
  copies: string;
}

/** What the document says of a schema that a copy of it would repeat. */
export interface SchemaOutline {
  properties?: Record<string, unknown>;
  required?: string[];
}

/** A shape this small (`{ id, name }`) is anybody's: only larger ones are taken for copies. */
const MIN_PROPERTIES = 3;

const DECLARATION =
  /^[ \t]*(?:export\s+)?(?:declare\s+)?(?:(?:type|interface|enum)\s+([A-Za-z_]\w*)\b)(.*)$/gm;

/**
 * The declarations in `files` that repeat a generated type: one named like a schema (`type
 * RunState = 'pending' | …`), or an object type (`interface Run { … }`) with every property of
 * a schema of at least three properties — a second definition that would drift from the server's.
 * An alias of the generated type (`type Run = Schemas['RunResponse']`) is how a client names it.
 */
export function handWrittenCopies(
  files: readonly { path: string; text: string }[],
  schemas: Readonly<Record<string, SchemaOutline>>,
): HandWrittenCopy[] {
  const outlines = Object.entries(schemas).flatMap(([name, schema]) => {
    const properties = Object.keys(schema.properties ?? {});
    return properties.length >= MIN_PROPERTIES ? [{ name, properties }] : [];
  });
  const copies: HandWrittenCopy[] = [];
  for (const { path, text } of files) {
    for (const match of text.matchAll(DECLARATION)) {
      const name = match[1] ?? '';
      const rest = match[2] ?? '';
      const line = text.slice(0, match.index).split('\n').length;
      if (/=\s*(?:Schemas|components\[['"]schemas['"]\])\[['"]/.test(rest)) continue;
      if (name in schemas) {
        copies.push({ path, line, name, copies: name });
        continue;
      }
      const body = objectBody(text, (match.index ?? 0) + match[0].length - rest.length);
      if (body === undefined) continue;
      const declared = new Set(topLevelProperties(body));
      const copied = outlines.find((o) => o.properties.every((p) => declared.has(p)));
      if (copied !== undefined) copies.push({ path, line, name, copies: copied.name });
    }
  }
  return copies;
}

/** The text between the first `{` from `from` (on the declaration's line) and its `}`. */
function objectBody(text: string, from: number): string | undefined {
  const lineEnd = text.indexOf('\n', from);
  const open = text.indexOf('{', from);
  if (open < 0 || (lineEnd >= 0 && open > lineEnd)) return undefined;
  let depth = 0;
  for (let i = open; i < text.length; i += 1) {
    if (text[i] === '{') depth += 1;
    else if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  return undefined;
}

/** The property names at the first level of an object type's body. */
function topLevelProperties(body: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const line of body.split('\n')) {
    const match = depth === 0 ? /^\s*(?:readonly\s+)?([A-Za-z_]\w*)\??\s*:/.exec(line) : null;
    if (match?.[1] !== undefined) names.push(match[1]);
    for (const c of line) {
      if (c === '{' || c === '(' || c === '[') depth += 1;
      else if (c === '}' || c === ')' || c === ']') depth -= 1;
    }
  }
  return names;
}
