import { onTestFailed } from 'vitest';
import { KilnProcess } from './kiln-process';

/** A request log line: hundreds of them (a test polling the API) would hide what went wrong. */
const REQUEST_LINE = '"msg":"request completed"';

/**
 * On a failed test, prints the last lines of every Kiln process the file started (killed ones
 * too), leaving out the lines of successful requests.
 */
export function printProcessesOnFailure(): void {
  onTestFailed(() => {
    for (const kiln of KilnProcess.started) {
      const lines = kiln.output.split('\n').filter((line) => !line.includes(REQUEST_LINE));
      process.stderr.write(
        `\n----- ${kiln.app} (pid ${kiln.pid}) -----\n${lines.slice(-80).join('\n')}\n`,
      );
    }
  });
}
