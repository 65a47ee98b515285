import { AgentCall, parseMessage, SchedulerCall } from '@kiln/contracts';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { reportSection, table } from '../support/report';

/*
 * Messages checked per second, the way parseMessage and the master's ValidationPipe did it
 * (class-transformer's plainToInstance, then class-validator's validateSync on every call) beside
 * the compiled validators that replaced them. Both take the same JSON; only the ratio means much.
 */

const ROUNDS = 5;
const ROUND_MS = 400;

const task = (i: number): object => ({
  taskId: `build-${i}`,
  name: 'build',
  command: { shell: true, value: 'make test', environment: { CI: 'true', PATH: '/usr/bin' } },
  resources: { cpus: 1, mem: 512, disk: 100, ports: [] },
  container: { type: 'process' },
  source: { url: 'https://git.test/repo.git', sha: 'a'.repeat(40), cacheKey: 'repo' },
  maxCompletionTimeSeconds: 3600,
  labels: { run: 'r-1', job: 'test' },
  logSink: { url: 'http://server.test/api/v1/logs', token: 't'.repeat(40) },
});

const MESSAGES: ReadonlyArray<{ name: string; cls: new () => object; json: object }> = [
  {
    name: 'agent UPDATE (a status)',
    cls: AgentCall,
    json: {
      type: 'UPDATE',
      agentId: 'agent-1',
      update: {
        frameworkId: 'fw-1',
        status: {
          taskId: 'build-1',
          state: 'TASK_RUNNING',
          uuid: 'u'.repeat(36),
          source: 'AGENT',
          timestamp: 1_765_000_000.5,
        },
      },
    },
  },
  {
    name: 'scheduler ACCEPT (1 task)',
    cls: SchedulerCall,
    json: {
      type: 'ACCEPT',
      frameworkId: 'fw-1',
      accept: {
        offerIds: ['o-1'],
        operations: [{ type: 'LAUNCH', launch: { taskInfos: [task(1)] } }],
      },
    },
  },
  {
    name: 'scheduler ACCEPT (20 tasks)',
    cls: SchedulerCall,
    json: {
      type: 'ACCEPT',
      frameworkId: 'fw-1',
      accept: {
        offerIds: ['o-1', 'o-2'],
        operations: [
          { type: 'LAUNCH', launch: { taskInfos: Array.from({ length: 20 }, (_, i) => task(i)) } },
        ],
      },
    },
  },
];

function reflected(cls: new () => object, json: object): void {
  const errors = validateSync(plainToInstance(cls, json), {
    whitelist: true,
    forbidNonWhitelisted: true,
  });
  if (errors.length > 0) throw new Error(`${cls.name}: the benchmark's message is invalid`);
}

function compiled(cls: new () => object, json: object): void {
  parseMessage(cls, json);
}

/** The best of a few rounds: on a shared machine the other rounds measure the neighbours. */
function perSecond(
  check: (cls: new () => object, json: object) => void,
  cls: new () => object,
  json: object,
): number {
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ROUND_MS) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 100; i++) check(cls, json);
      count += 100;
      now = process.hrtime.bigint();
    }
    best = Math.max(best, count / (Number(now - start) / 1e9));
  }
  return best;
}

function main(): void {
  const rows = MESSAGES.map(({ name, cls, json }) => {
    compiled(cls, json); // the one compilation is not what is measured
    const before = perSecond(reflected, cls, json);
    const after = perSecond(compiled, cls, json);
    const format = (n: number): string => Math.round(n).toLocaleString('en-US');
    return [name, format(before), format(after), `${(after / before).toFixed(1)}×`];
  });
  reportSection(
    'contracts',
    'Message validation: reflection vs compiled validators',
    `Messages checked per second on one core, best of ${ROUNDS} rounds of ${ROUND_MS} ms.\n\n` +
      table(['message', 'class-transformer + class-validator', 'compiled (ajv)', 'speed-up'], rows),
  );
}

main();
