import { resources, type AgentInfo, type Resources } from '@kiln/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import { ResourceAccounting, type OfferHolding } from './resource-accounting';

const AGENT: AgentInfo = {
  id: 'agent-1',
  hostname: 'a1',
  resources: { cpus: 4, mem: 4096, disk: 0, ports: [] },
  attributes: {},
  containerizers: ['process'],
  version: 'test',
};
const TASK = resources({ cpus: 1, mem: 512 });

describe(ResourceAccounting.name, () => {
  let now: number;
  let accounting: ResourceAccounting;

  beforeEach(() => {
    now = 1_000_000;
    accounting = new ResourceAccounting(() => now);
    accounting.addAgent(AGENT);
    accounting.addFramework('fw-1', ['ci']);
  });

  /** What the allocator counts as held on agent-1 (undefined once the agent is out of the books). */
  function allocatedOnAgent(): Resources | undefined {
    return accounting.snapshot().agents.find((a) => a.agentId === AGENT.id)?.allocated;
  }

  function offerWholeAgent(): OfferHolding {
    const [offer, ...rest] = accounting.allocate();
    expect(rest).toEqual([]);
    expect(offer).toMatchObject({ frameworkId: 'fw-1', agentId: AGENT.id, role: 'ci' });
    expect(offer!.resources).toMatchObject({ cpus: 4, mem: 4096 });
    return offer!;
  }

  /** Offers the agent and launches `taskId` from the offer, as an ACCEPT does. */
  function launchFromOffer(taskId: string): OfferHolding {
    const offer = offerWholeAgent();
    accounting.launch([offer.offerId], [{ taskId, resources: TASK }], 0);
    return offer;
  }

  it('holds what an offer holds until the offer is given back, then offers it again', () => {
    const offer = offerWholeAgent();
    expect(allocatedOnAgent()).toMatchObject({ cpus: 4, mem: 4096 });
    expect(accounting.allocate()).toEqual([]);

    accounting.releaseOffer(offer.offerId);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(accounting.offerHolding(offer.offerId)).toBeUndefined();
    offerWholeAgent();
  });

  it('gives back the part of an accepted offer its tasks do not use, and keeps the rest held', () => {
    launchFromOffer('task-1');

    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
    expect(accounting.taskHolding('task-1')).toMatchObject({ agentId: AGENT.id, role: 'ci' });
    expect(accounting.usedByAgent().get(AGENT.id)).toMatchObject({ cpus: 1, mem: 512 });
    expect(accounting.allocate()[0]!.resources).toMatchObject({ cpus: 3, mem: 3584 });
  });

  it('frees a task exactly once on its way from offered through accepted and running to ended', () => {
    launchFromOffer('task-1');
    // Running changes nothing in the books: only the end gives back.
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });

    expect(accounting.releaseTask('task-1')).toBe(true);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(accounting.taskHolding('task-1')).toBeUndefined();
    expect(accounting.usedByAgent().get(AGENT.id)).toBeUndefined();
  });

  it('frees nothing more on a duplicate terminal update, even with the agent offered again', () => {
    launchFromOffer('task-1');
    accounting.releaseTask('task-1');
    const offer = offerWholeAgent();

    expect(accounting.releaseTask('task-1')).toBe(false);
    // The new offer still holds all of the agent, and giving it back takes all of it.
    expect(allocatedOnAgent()).toMatchObject({ cpus: 4, mem: 4096 });
    accounting.releaseOffer(offer.offerId);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
  });

  it('gives a rescinded offer back once, and frees nothing for one rescinded after its agent went', () => {
    const offer = offerWholeAgent();
    accounting.releaseOffer(offer.offerId);
    accounting.releaseOffer(offer.offerId);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });

    const late = offerWholeAgent();
    accounting.removeAgent(AGENT.id);
    expect(accounting.hasAgent(AGENT.id)).toBe(false);
    expect(() => accounting.releaseOffer(late.offerId)).not.toThrow();
    expect(accounting.offerHolding(late.offerId)).toBeUndefined();

    // Back with nothing counted: the whole agent is offered.
    accounting.addAgent(AGENT);
    offerWholeAgent();
  });

  it('loses a task with its agent: its end frees nothing, and it counts again if the agent returns with it', () => {
    launchFromOffer('task-1');
    accounting.removeAgent(AGENT.id);
    expect(accounting.taskHolding('task-1')).toBeUndefined();
    expect(accounting.releaseTask('task-1')).toBe(false);

    accounting.addAgent(AGENT);
    accounting.countTask('task-1', {
      frameworkId: 'fw-1',
      agentId: AGENT.id,
      role: 'ci',
      resources: TASK,
    });
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
    expect(accounting.releaseTask('task-1')).toBe(true);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
  });

  it('counts a task reported on a new agent once, given back where it was counted before', () => {
    launchFromOffer('task-1');
    accounting.addAgent({ ...AGENT, id: 'agent-2' });

    accounting.countTask('task-1', {
      frameworkId: 'fw-1',
      agentId: 'agent-2',
      role: 'ci',
      resources: TASK,
    });
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(accounting.usedByAgent().get('agent-2')).toMatchObject({ cpus: 1, mem: 512 });
  });

  it('drops what a removed framework held: its tasks ending later free nothing', () => {
    launchFromOffer('task-1');
    accounting.removeFramework('fw-1');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });

    // Subscribed again under the same id and offered the agent: the old task's end takes nothing.
    accounting.addFramework('fw-1', ['ci']);
    const offer = offerWholeAgent();
    expect(accounting.releaseTask('task-1')).toBe(false);
    accounting.releaseOffer(offer.offerId);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
  });

  it('keeps what tasks hold counted when their framework changes roles', () => {
    launchFromOffer('task-1');
    accounting.changeRoles('fw-1', ['ci', 'batch']);

    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
    expect(accounting.releaseTask('task-1')).toBe(true);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
  });

  it('keeps a framework that declined an agent from being offered it for the refuse time', () => {
    const offer = offerWholeAgent();
    accounting.releaseOffer(offer.offerId, 5);
    expect(accounting.allocate()).toEqual([]);

    now += 5_000;
    offerWholeAgent();
  });
});
