import { describe, expect, it } from 'vitest';
import {
  extractStepMarkers,
  markerSafeEnd,
  parseStepMarker,
  stepEndMarker,
  stepStartMarker,
} from './step-markers';

const nonce = 'Ab3_-xYz09QwErTy';

describe(parseStepMarker.name, () => {
  it('reads back the markers the helpers print, with or without their newline', () => {
    expect(stepStartMarker(nonce, 2)).toBe(`::kiln-step-start ${nonce} 2`);
    expect(stepEndMarker(nonce, 2, '$?')).toBe(`::kiln-step-end ${nonce} 2 $?`);
    expect(parseStepMarker(stepStartMarker(nonce, 2), nonce)).toEqual({ kind: 'start', idx: 2 });
    expect(parseStepMarker(`${stepStartMarker(nonce, 0)}\n`, nonce)).toEqual({
      kind: 'start',
      idx: 0,
    });
    // What the shell prints once it has expanded `$?`.
    expect(parseStepMarker(`::kiln-step-end ${nonce} 2 137\r\n`, nonce)).toEqual({
      kind: 'end',
      idx: 2,
      exitCode: 137,
    });
  });

  it('takes a marker with another nonce, or malformed, for ordinary text', () => {
    for (const line of [
      `::kiln-step-start wrongNonce 1`,
      `::kiln-step-start ${nonce} 1 0`,
      `::kiln-step-end ${nonce} 1`,
      `::kiln-step-end ${nonce} 1 $?`,
      `::kiln-step-start ${nonce} -1`,
      ` ::kiln-step-start ${nonce} 1`,
      `::kiln-step-start ${nonce} 1 `,
      `::kiln-step-start ${nonce} 1234567890`,
      `echo ::kiln-step-start ${nonce} 1`,
      '',
    ]) {
      expect(parseStepMarker(line, nonce), line).toBeUndefined();
    }
  });

  it('refuses to print a marker that would not parse', () => {
    expect(() => stepStartMarker('has space', 1)).toThrow(/nonce/);
    expect(() => stepStartMarker(nonce, -1)).toThrow(/index/);
    expect(() => stepEndMarker(nonce, 1.5, '$?')).toThrow(/index/);
  });
});

describe(extractStepMarkers.name, () => {
  it('takes the marker lines out and numbers steps by the lines kept', () => {
    const data = [
      stepStartMarker(nonce, 0),
      'cloning',
      'done',
      `::kiln-step-end ${nonce} 0 0`,
      stepStartMarker(nonce, 1),
      `::kiln-step-start forged 7`,
      'testing',
      `::kiln-step-end ${nonce} 1 2`,
      '',
    ].join('\n');
    expect(extractStepMarkers(data, nonce, 10)).toEqual({
      text: 'cloning\ndone\n::kiln-step-start forged 7\ntesting\n',
      steps: [
        { kind: 'start', idx: 0, firstLine: 10 },
        { kind: 'end', idx: 0, exitCode: 0 },
        { kind: 'start', idx: 1, firstLine: 12 },
        { kind: 'end', idx: 1, exitCode: 2 },
      ],
    });
  });

  it('leaves a marker without its newline (a cut line) as text', () => {
    const data = `out\n${stepStartMarker(nonce, 3)}`;
    expect(extractStepMarkers(data, nonce, 1)).toEqual({ text: data, steps: [] });
  });

  it('ends the last line of a step whose output had no final newline, and takes its end marker', () => {
    const data = `${stepStartMarker(nonce, 0)}\nno newline here::kiln-step-end ${nonce} 0 0\nnext\n`;
    expect(extractStepMarkers(data, nonce, 1)).toEqual({
      text: 'no newline here\nnext\n',
      steps: [
        { kind: 'start', idx: 0, firstLine: 1 },
        { kind: 'end', idx: 0, exitCode: 0 },
      ],
    });
  });

  it('ends the line the stored text left unended when a held-back marker starts the piece', () => {
    // The stored text ended in a step's long last line, cut before its end marker.
    const data = `::kiln-step-end ${nonce} 0 5\n${stepStartMarker(nonce, 1)}\nnext\n`;
    expect(extractStepMarkers(data, nonce, 4, true)).toEqual({
      text: '\nnext\n',
      steps: [
        { kind: 'end', idx: 0, exitCode: 5 },
        { kind: 'start', idx: 1, firstLine: 5 },
      ],
    });
    // Text that continues the line is that line's, marker or not after it.
    expect(extractStepMarkers(`more\n${stepStartMarker(nonce, 1)}\n`, nonce, 4, true)).toEqual({
      text: 'more\n',
      steps: [{ kind: 'start', idx: 1, firstLine: 5 }],
    });
  });

  it('keeps a forged end marker at the end of a line as text', () => {
    const data = `out::kiln-step-end forged 0 0\n`;
    expect(extractStepMarkers(data, nonce, 1)).toEqual({ text: data, steps: [] });
  });

  it('returns text without markers as it is', () => {
    expect(extractStepMarkers('a\nb', nonce, 1)).toEqual({ text: 'a\nb', steps: [] });
  });
});

describe(markerSafeEnd.name, () => {
  const end = stepEndMarker(nonce, 2, '1');

  it('holds back a marker that starts near the end of an unended line, from its start', () => {
    const text = `done\n${'x'.repeat(500)}${end.slice(0, 20)}`;
    expect(markerSafeEnd(text)).toBe(text.indexOf('::kiln-step-'));
  });

  it('holds back an end that could start a marker', () => {
    for (const tail of [':', '::', '::kiln-s', '::kiln-step']) {
      const text = `${'x'.repeat(500)}${tail}`;
      expect(markerSafeEnd(text)).toBe(500);
    }
  });

  it('keeps the whole of a text whose end could be no marker', () => {
    for (const text of ['x'.repeat(500), `a ${end}\nafter`, `${'x'.repeat(500)}::kiln-stop`]) {
      expect(markerSafeEnd(text)).toBe(text.length);
    }
    // A marker far from the end is whole: the cut cannot fall in it.
    const far = `${end}${'x'.repeat(500)}`;
    expect(markerSafeEnd(far)).toBe(far.length);
  });
});
