/**
 * Reads newline-delimited JSON from a byte stream (a `fetch` response body), yielding one parsed
 * value per line. A line that is not JSON ends the stream with an error naming it: a corrupt
 * stream must not be half-read silently.
 */
export async function* readNdjson(body: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line !== '') yield parseLine(line);
      newline = buffered.indexOf('\n');
    }
  }
  const rest = (buffered + decoder.decode()).trim();
  if (rest !== '') yield parseLine(rest);
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new Error(`malformed NDJSON line: ${line.slice(0, 200)}`);
  }
}
