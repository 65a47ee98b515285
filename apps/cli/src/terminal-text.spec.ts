import { describe, expect, it } from 'vitest';
import { TerminalFilter, terminalText } from './terminal-text';

const ESC = '\u001b';
const clipboard = `${ESC}]52;c;Y3VybCBldmlsIHwgc2g=\u0007`;
const title = `${ESC}]0;pwned${ESC}\\`;
const rewrite = `${ESC}[1A${ESC}[2K`;

describe('terminalText', () => {
  it("keeps a log's colours and carriage returns, and drops every other control sequence", () => {
    const log = `${ESC}[1;32mok${ESC}[0m\r50%\r100%\n${clipboard}${title}${rewrite}a\u0008b\u009b31mc\tend\n`;
    expect(terminalText(log, 'log')).toBe(`${ESC}[1;32mok${ESC}[0m\r50%\r100%\nab31mc\tend\n`);
  });

  it('keeps the plain colours of composed text, none that hide it, and no carriage return', () => {
    const text = `${ESC}[31mred${ESC}[0m ${ESC}[8mhidden${ESC}[0m ${ESC}[30;40mblack${ESC}[0m\rx${clipboard}\n`;
    expect(terminalText(text, 'text')).toBe(
      `${ESC}[31mred${ESC}[0m hidden${ESC}[0m black${ESC}[0mx\n`,
    );
  });

  it('holds a sequence cut between two chunks of a log until its end comes', () => {
    const filter = new TerminalFilter('log');
    expect(filter.write(`a${ESC}[3`)).toBe('a');
    expect(filter.write(`1mred${ESC}]52;c;`)).toBe(`${ESC}[31mred`);
    expect(filter.write('Zm9v\u0007b')).toBe('b');
    expect(filter.write(`${ESC}`)).toBe('');
    expect(filter.end()).toBe('');
  });

  it('drops a sequence that never ends rather than holding the log back', () => {
    const filter = new TerminalFilter('log');
    expect(filter.write(`${ESC}]52;c;${'A'.repeat(1000)}`)).toBe('');
    expect(filter.write('visible\n')).toBe('visible\n');
  });
});
