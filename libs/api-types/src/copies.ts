/** A declaration in a client of a type that the OpenAPI document already defines. */
export interface HandWrittenCopy {
  path: string;
  line: number;
  name: string;
}

/**
 * The declarations (`type X =`, `interface X`, `enum X`) in `files` of a name the generated API
 * types define: a second definition that would drift from the server's. Imports and re-exports of
 * the generated type (`export type { X }`, `type X = Schemas['X']`) are not copies.
 */
export function handWrittenCopies(
  files: readonly { path: string; text: string }[],
  generatedNames: readonly string[],
): HandWrittenCopy[] {
  const generated = new Set(generatedNames);
  const copies: HandWrittenCopy[] = [];
  const declaration =
    /^\s*(?:export\s+)?(?:declare\s+)?(?:type|interface|enum)\s+([A-Za-z_]\w*)\b(.*)$/;
  for (const { path, text } of files) {
    text.split('\n').forEach((source, index) => {
      const match = declaration.exec(source);
      const name = match?.[1];
      if (name === undefined || !generated.has(name)) return;
      // An alias of the generated type itself is how a client names it.
      if (/=\s*(?:Schemas|components\[['"]schemas['"]\])\[['"]/.test(match?.[2] ?? '')) return;
      copies.push({ path, line: index + 1, name });
    });
  }
  return copies;
}
