import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeRecords, type RuntimeRecord } from './runtime-records';

function recordOf(containerId: string, pid = 4242): RuntimeRecord {
  return { containerId, sandbox: `/sandboxes/${containerId}`, checkpoint: { pid, startTime: 99 } };
}

describe(RuntimeRecords.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-runtime-records-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("gives a restarted agent every live container's latest record, and none of the removed", async () => {
    const records = new RuntimeRecords(dir);
    await records.readAll();
    await Promise.all([records.write(recordOf('a', 1)), records.write(recordOf('b'))]);
    await records.write(recordOf('a', 2));
    await records.remove('b');

    expect(await new RuntimeRecords(dir).readAll()).toEqual(new Map([['a', recordOf('a', 2)]]));
  });

  it('keeps its records in one file, whatever the number of containers', async () => {
    const records = new RuntimeRecords(dir);
    await records.readAll();
    await Promise.all(Array.from({ length: 50 }, (_, i) => records.write(recordOf(`c-${i}`))));

    expect(readdirSync(dir)).toEqual(['records']);
    expect((await new RuntimeRecords(dir).readAll()).size).toBe(50);
  });

  it("reads an older agent's file per container into the journal, and removes the files", async () => {
    writeFileSync(join(dir, 'old.json'), JSON.stringify(recordOf('old'), null, 2));
    writeFileSync(join(dir, 'torn.json'), '{"containerId":"torn","sandb');
    writeFileSync(join(dir, 'old.json.tmp'), '{"containerId":"half');

    expect(await new RuntimeRecords(dir).readAll()).toEqual(new Map([['old', recordOf('old')]]));
    expect(readdirSync(dir)).toEqual(['records']);
    expect(await new RuntimeRecords(dir).readAll()).toEqual(new Map([['old', recordOf('old')]]));
  });

  it('leaves out a line that is no record, and keeps the rest', async () => {
    const valid = JSON.stringify(recordOf('ok'));
    const wrongShape = JSON.stringify({ containerId: 'bad', sandbox: 5, checkpoint: {} });
    writeFileSync(join(dir, 'records'), `${valid}\nnot json\n${wrongShape}\n`);

    expect(await new RuntimeRecords(dir).readAll()).toEqual(new Map([['ok', recordOf('ok')]]));
    expect(readFileSync(join(dir, 'records'), 'utf8')).toBe(`${valid}\n`);
  });
});
