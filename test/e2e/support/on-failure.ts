import { onTestFailed } from 'vitest';
import { KilnProcess } from './kiln-process';

/** On a failed test, prints the last lines of every Kiln process the file started. */
export function printProcessesOnFailure(): void {
  onTestFailed(() => {
    for (const kiln of KilnProcess.started) {
      const tail = kiln.output.split('\n').slice(-40).join('\n');
      process.stderr.write(`\n----- ${kiln.app} (pid ${kiln.pid}) -----\n${tail}\n`);
    }
  });
}
