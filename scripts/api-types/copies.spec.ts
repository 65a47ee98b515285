import { describe, expect, it } from 'vitest';
import { handWrittenCopies } from './copies';

const SCHEMAS = {
  RunState: {},
  RunResponse: {
    properties: { id: {}, number: {}, state: {}, sha: {} },
    required: ['id', 'number', 'state', 'sha'],
  },
  Small: { properties: { id: {}, name: {} } },
};

describe(handWrittenCopies.name, () => {
  it('finds a type declared with a generated name', () => {
    const text = "import type { X } from 'y';\nexport type RunState = 'pending' | 'running';\n";
    expect(handWrittenCopies([{ path: 'api.ts', text }], SCHEMAS)).toEqual([
      { path: 'api.ts', line: 2, name: 'RunState', copies: 'RunState' },
    ]);
  });

  it('finds an object type with every property of a schema, whatever its name', () => {
    const text =
      '/** A run. */\n' +
      'export interface Run {\n' +
      '  id: string;\n  number: number;\n  state: RunState;\n' +
      '  jobs: { id: string; sha: string }[];\n' +
      '  sha: string;\n  extra?: boolean;\n}\n';
    expect(handWrittenCopies([{ path: 'api.ts', text }], SCHEMAS)).toEqual([
      { path: 'api.ts', line: 2, name: 'Run', copies: 'RunResponse' },
    ]);
  });

  it('lets a client alias a generated type, and declare shapes of its own', () => {
    const text =
      "export type Run = Schemas['RunResponse'];\n" +
      "type RunState2 = components['schemas']['RunState'];\n" +
      'interface Filter {\n  id: string;\n  number?: number;\n  state?: string;\n}\n' +
      'interface Named {\n  id: string;\n  name: string;\n}\n';
    expect(handWrittenCopies([{ path: 'api.ts', text }], SCHEMAS)).toEqual([]);
  });
});
