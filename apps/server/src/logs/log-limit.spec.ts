import { describe, expect, it } from 'vitest';
import { limitMarker, renderWithinLimit, type RenderWhole } from './log-limit';

/** Text as it is; a line `start N` is a step start (taken out, as step markers are). */
const render: RenderWhole = (data, firstLine) => {
  let line = firstLine;
  let text = '';
  const steps: { kind: 'start'; idx: number; name: string; firstLine: number }[] = [];
  for (const piece of data.split(/(?<=\n)/)) {
    const start = /^start (\d)\n$/.exec(piece);
    if (start === null) {
      text += piece;
      if (piece.endsWith('\n')) line++;
    } else {
      steps.push({ kind: 'start', idx: Number(start[1]), name: 's', firstLine: line });
    }
  }
  return { text, steps };
};

function within(limit: number, data: string, offset: number, firstLine = 1) {
  const range = { offset, bytes: Buffer.byteLength(data) };
  return renderWithinLimit(limit, render, data, firstLine, range, false);
}

describe(renderWithinLimit.name, () => {
  it('tells the part it keeps that it continues a line, and never the part after the cut', () => {
    const seen: [string, boolean][] = [];
    const recording: RenderWhole = (data, firstLine, inLine) => {
      seen.push([data, inLine]);
      return render(data, firstLine, inLine);
    };
    renderWithinLimit(6, recording, 'ab\ncd\nef\n', 0, { offset: 0, bytes: 9 }, true);
    expect(seen).toEqual([
      ['ab\ncd\n', true],
      ['ef\n', false],
    ]);
  });

  it('keeps output that ends at or before the limit whole', () => {
    expect(within(8, 'abc\nefg\n', 0)).toEqual({ text: 'abc\nefg\n', steps: [] });
  });

  it('cuts the piece that holds the limit at its last line end before it, and marks the cut', () => {
    expect(within(10, 'abc\nefg\nhij\n', 0)).toEqual({
      text: `abc\nefg\n${limitMarker(10)}`,
      steps: [],
    });
  });

  it('never keeps more than the limit of output that holds invalid bytes', () => {
    // 10 lines of 100 bytes, then 1,500 bytes 0xFF (3 bytes of text each once decoded) and a newline.
    const lines = `${'x'.repeat(99)}\n`.repeat(10);
    const data = `${lines}${'\uFFFD'.repeat(1_500)}\n`;
    const range = { offset: 0, bytes: 1_000 + 1_501 };
    const rendered = renderWithinLimit(500, render, data, 1, range, false);
    expect(rendered.text).toBe(`${'x'.repeat(99)}\n`.repeat(5) + limitMarker(500));
  });

  it('marks the cut in the next piece when the log ends exactly at the limit', () => {
    expect(within(8, 'more\n', 8, 3)).toEqual({ text: limitMarker(8), steps: [] });
    expect(within(8, 'more\n', 13, 4)).toEqual({ text: '', steps: [] });
  });

  it('keeps the step starts of dropped output, on the line after the marker', () => {
    expect(within(4, 'abc\nstart 1\nxyz\nstart 2\n', 0, 5)).toEqual({
      text: `abc\n${limitMarker(4)}`,
      steps: [
        { kind: 'start', idx: 1, name: 's', firstLine: 7 },
        { kind: 'start', idx: 2, name: 's', firstLine: 7 },
      ],
    });
    expect(within(4, 'start 3\nzzz\n', 40, 7).steps).toEqual([
      { kind: 'start', idx: 3, name: 's', firstLine: 7 },
    ]);
  });

  it('names the limit in MiB, KiB or bytes', () => {
    expect(limitMarker(16 * 1024 * 1024)).toBe(
      'kiln: the log reached its limit of 16 MiB; the rest was dropped\n',
    );
    expect(limitMarker(2048)).toContain('of 2 KiB;');
    expect(limitMarker(100)).toContain('of 100 bytes;');
  });
});
