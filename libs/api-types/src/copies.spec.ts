import { describe, expect, it } from 'vitest';
import { handWrittenCopies } from './copies';

describe(handWrittenCopies.name, () => {
  const names = ['RunState', 'RunView'];

  it('finds a type, an interface or an enum declared with a generated name', () => {
    const files = [
      {
        path: 'apps/web/src/api.ts',
        text:
          "import type { Schemas } from '@kiln/api-types';\n" +
          "export type RunState = 'pending' | 'running';\n" +
          'interface RunView {\n  id: string;\n}\n' +
          'enum Other { A }\n',
      },
    ];
    expect(handWrittenCopies(files, names)).toEqual([
      { path: 'apps/web/src/api.ts', line: 2, name: 'RunState' },
      { path: 'apps/web/src/api.ts', line: 3, name: 'RunView' },
    ]);
  });

  it('lets a client name the generated type, import it or re-export it', () => {
    const files = [
      {
        path: 'apps/cli/src/api-types.ts',
        text:
          "import type { RunView } from '@kiln/api-types';\n" +
          "export type RunState = Schemas['RunState'];\n" +
          "export type { RunView } from '@kiln/api-types';\n" +
          "type Local = components['schemas']['RunView'];\n",
      },
    ];
    expect(handWrittenCopies(files, names)).toEqual([]);
  });
});
