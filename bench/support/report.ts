import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';

const REPORT = resolve(__dirname, '../../docs/benchmarks.md');

const HEADER = `# Benchmarks

Figures written by \`npm run bench\` and its parts (\`bench:cluster\`, …), each section with the
machine it ran on. These machines are shared: compare ratios measured in one run, not absolute
figures across runs.
`;

/** The facts a figure means nothing without. */
export function machineFacts(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  let kernel = 'unknown kernel';
  try {
    kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    // uname is missing on a few minimal hosts; the other facts still help.
  }
  const mem = Math.round(totalmem() / 2 ** 30);
  // On a shared machine the load says how much of it the figures had.
  const load = loadavg()[0]?.toFixed(1) ?? '?';
  return `${cpus().length} × ${cpu}, ${mem} GiB, ${kernel}, Node ${process.version}, load average ${load} at the end`;
}

/**
 * Prints a benchmark's section and writes it into docs/benchmarks.md, replacing the earlier
 * figures of the same section and keeping the others.
 */
export function reportSection(id: string, title: string, body: string): void {
  const section =
    `<!-- bench:${id} -->\n## ${title}\n\n` +
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineFacts()}.\n\n` +
    `${body.trim()}\n<!-- /bench:${id} -->`;
  process.stdout.write(`\n${section}\n`);
  mkdirSync(dirname(REPORT), { recursive: true });
  const current = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : HEADER;
  const pattern = new RegExp(`<!-- bench:${id} -->[\\s\\S]*?<!-- /bench:${id} -->`);
  const next = pattern.test(current)
    ? current.replace(pattern, () => section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(REPORT, next);
}

/** Percentile of already-sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

/** A markdown table. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}
