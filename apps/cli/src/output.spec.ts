import { describe, expect, it } from 'vitest';
import {
  colorEnabled,
  elapsed,
  formatAge,
  formatBytes,
  formatDuration,
  Painter,
  table,
} from './output';

describe(table.name, () => {
  it('aligns columns on their widest cell, without trailing blanks', () => {
    expect(
      table(
        ['#', 'STATE', 'BRANCH'],
        [
          ['12', 'success', 'main'],
          ['9', 'failure', 'feature/long-name'],
        ],
      ),
    ).toBe('#   STATE    BRANCH\n' + '12  success  main\n' + '9   failure  feature/long-name\n');
  });

  it('keeps the alignment when cells are coloured', () => {
    const painter = new Painter(true);
    const text = table(
      ['STATE', 'X'],
      [
        ['ok', 'a'],
        ['failure', 'b'],
      ],
      (column, value) => (column === 0 ? painter.paint(value, 'red') : value),
    );
    const plain = text.replaceAll('\u001b[31m', '').replaceAll('\u001b[0m', '');
    expect(plain).toBe('STATE    X\nok       a\nfailure  b\n');
    expect(text).toContain('\u001b[31mok\u001b[0m       a');
  });
});

describe('colours', () => {
  it('are on only for a terminal without NO_COLOR', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
  });

  it('leave text alone when off', () => {
    expect(new Painter(false).state('failure')).toBe('failure');
    expect(new Painter(true).state('success')).toBe('\u001b[32msuccess\u001b[0m');
    expect(new Painter(true).state('unheard-of')).toBe('unheard-of');
  });
});

describe('times', () => {
  const now = new Date('2025-01-10T12:00:00Z');

  it('formats sizes in binary units, one decimal past a KiB', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12 * 1024 * 1024)).toBe('12.0 MiB');
    expect(formatBytes(2.1 * 1024 ** 3)).toBe('2.1 GiB');
  });

  it('formats durations compactly', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_400)).toBe('12s');
    expect(formatDuration(185_000)).toBe('3m05s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    expect(formatDuration(-5)).toBe('0ms');
  });

  it('formats ages relative to now, and old ones as dates', () => {
    expect(formatAge(undefined, now)).toBe('-');
    expect(formatAge('2025-01-10T12:00:00Z', now)).toBe('just now');
    expect(formatAge('2025-01-10T11:59:30Z', now)).toBe('30s ago');
    expect(formatAge('2025-01-10T11:55:00Z', now)).toBe('5m ago');
    expect(formatAge('2025-01-10T09:00:00Z', now)).toBe('3h ago');
    expect(formatAge('2025-01-08T12:00:00Z', now)).toBe('2d ago');
    expect(formatAge('2024-12-01T12:00:00Z', now)).toBe('2024-12-01');
  });

  it('measures a run until it finished, or until now while it runs', () => {
    expect(elapsed(undefined, undefined, now)).toBe('-');
    expect(elapsed('2025-01-10T11:59:00Z', '2025-01-10T11:59:42Z', now)).toBe('42s');
    expect(elapsed('2025-01-10T11:58:00Z', undefined, now)).toBe('2m00s');
  });
});
