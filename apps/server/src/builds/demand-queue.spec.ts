import { describe, expect, it } from 'vitest';
import { DemandQueue, type OfferedRoom, type ShapedDemand } from './demand-queue';

interface TestDemand extends ShapedDemand {
  readonly task: { taskId: string; resources: { cpus: number; mem: number; disk: number } };
}

function demand(taskId: string, cpus: number, mem: number, image?: string): TestDemand {
  return { task: { taskId, resources: { cpus, mem, disk: 0 } }, image };
}

function room(cpus: number, mem: number, containerizers = ['process']): OfferedRoom {
  return { resources: { cpus, mem }, containerizers };
}

/**
 * The matching the queue replaces, as the build framework did it: every demand in arrival order
 * (a Map keeps insertion order), skipping those being placed, first fit.
 */
class NaiveDemands {
  readonly demands = new Map<string, { demand: TestDemand; placing: boolean }>();

  add(d: TestDemand): void {
    this.demands.set(d.task.taskId, { demand: d, placing: false });
  }

  delete(taskId: string): void {
    this.demands.delete(taskId);
  }

  release(taskId: string): void {
    const entry = this.demands.get(taskId);
    if (entry !== undefined) entry.placing = false;
  }

  match(offer: OfferedRoom): string[] {
    let cpus = offer.resources.cpus;
    let mem = offer.resources.mem;
    const runsImages = offer.containerizers.includes('docker');
    const runsPlain = offer.containerizers.some((c) => c === 'cgroup' || c === 'process');
    const chosen: string[] = [];
    for (const entry of this.demands.values()) {
      if (entry.placing) continue;
      if (entry.demand.image === undefined ? !runsPlain : !runsImages) continue;
      const need = entry.demand.task.resources;
      if (need.cpus > cpus + 1e-9 || need.mem > mem) continue;
      cpus -= need.cpus;
      mem -= need.mem;
      entry.placing = true;
      chosen.push(entry.demand.task.taskId);
    }
    return chosen;
  }
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(DemandQueue.name, () => {
  it('takes the oldest demand first across shapes, and what fits after one that does not', () => {
    const queue = new DemandQueue<TestDemand>();
    queue.add(demand('big', 4, 4096));
    queue.add(demand('small-1', 1, 128));
    queue.add(demand('docker', 1, 128, 'alpine'));
    queue.add(demand('small-2', 1, 128));
    expect(queue.match(room(2, 1024)).map((d) => d.task.taskId)).toEqual(['small-1', 'small-2']);
    expect(queue.match(room(8, 8192, ['docker', 'process'])).map((d) => d.task.taskId)).toEqual([
      'big',
      'docker',
    ]);
    expect(queue.size).toBe(4);
  });

  it('gives a released demand its old turn back', () => {
    const queue = new DemandQueue<TestDemand>();
    queue.add(demand('first', 1, 128));
    queue.add(demand('second', 1, 128));
    expect(queue.match(room(1, 128)).map((d) => d.task.taskId)).toEqual(['first']);
    queue.release('first');
    expect(queue.match(room(1, 128)).map((d) => d.task.taskId)).toEqual(['first']);
    queue.delete('first');
    expect(queue.match(room(1, 128)).map((d) => d.task.taskId)).toEqual(['second']);
  });

  it('chooses what the naive first fit in arrival order chooses, on random demands and offers', () => {
    const shapes = [
      [1, 128],
      [0.5, 256],
      [2, 1024],
      [0.1, 64],
      [0.2, 64],
      [4, 4096],
    ] as const;
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
      const queue = new DemandQueue<TestDemand>();
      const naive = new NaiveDemands();
      const placing: string[] = [];
      let id = 0;
      for (let step = 0; step < 300; step++) {
        const roll = next();
        if (roll < 0.45) {
          const [cpus, mem] = pick(shapes);
          // Now and then a demand for a task already queued, which takes the old one's turn.
          const taskId = next() < 0.03 && id > 0 ? `t${Math.floor(next() * id)}` : `t${id++}`;
          const d = demand(taskId, cpus, mem, next() < 0.3 ? 'alpine' : undefined);
          queue.add(d);
          naive.add(d);
        } else if (roll < 0.6 && naive.demands.size > 0) {
          const taskId = pick([...naive.demands.keys()]);
          queue.delete(taskId);
          naive.delete(taskId);
        } else if (roll < 0.75 && placing.length > 0) {
          const taskId = placing.splice(Math.floor(next() * placing.length), 1)[0] as string;
          if (next() < 0.5) {
            queue.release(taskId);
            naive.release(taskId);
          } else {
            queue.delete(taskId);
            naive.delete(taskId);
          }
        } else {
          const offer = room(
            Math.round(next() * 60) / 10,
            Math.round(next() * 64) * 64,
            pick([['process'], ['docker'], ['cgroup', 'docker'], []]),
          );
          const expected = naive.match(offer);
          expect(
            queue.match(offer).map((d) => d.task.taskId),
            `seed ${seed}, step ${step}`,
          ).toEqual(expected);
          placing.push(...expected);
        }
        expect(queue.size).toBe(naive.demands.size);
      }
    }
  });
});
