import type { Offer } from '@kiln/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import { OfferBook } from './offer-book';
import { clusterParts, offersSent } from './testing/cluster-parts';

describe(OfferBook.name, () => {
  let parts: ReturnType<typeof clusterParts>;
  let offer: Offer;

  beforeEach(() => {
    parts = clusterParts();
    parts.allocation.allocate();
    offer = offersSent(parts.frameworkStream)[0] as Offer;
  });

  function allocatedOnAgent(): object | undefined {
    return parts.accounting.snapshot().agents[0]?.allocated;
  }

  it('makes an offer of what the allocation holds, described with the agent', () => {
    expect(offer).toMatchObject({
      frameworkId: 'fw-1',
      agentId: 'agent-1',
      hostname: 'a1',
      role: 'ci',
      containerizers: ['process'],
      resources: { cpus: 4, mem: 4096 },
    });
    expect(allocatedOnAgent()).toMatchObject({ cpus: 4, mem: 4096 });
  });

  it('refuses offers of another framework, or one listed twice', () => {
    expect(() => parts.offers.owned('fw-2', [offer.id])).toThrow(/not an outstanding offer/);
    expect(() => parts.offers.owned('fw-1', [offer.id, offer.id])).toThrow(/listed twice/);
    expect(parts.offers.owned('fw-1', [offer.id])).toEqual([offer]);
  });

  it('gives a declined offer back, with the refuse filter', () => {
    parts.offers.decline([offer], 5);

    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(() => parts.offers.owned('fw-1', [offer.id])).toThrow(/declined/);
    parts.allocation.allocate();
    expect(offersSent(parts.frameworkStream)).toHaveLength(1);
  });

  it('rescinds matching offers once, telling the framework only when asked to', () => {
    parts.offers.rescind(() => true, 'timeout', true);
    parts.offers.rescind(() => true, 'timeout', true);

    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(parts.frameworkStream.sent.at(-1)).toEqual({
      type: 'RESCIND',
      rescind: { offerId: offer.id },
    });
    expect(parts.frameworkStream.types().filter((t) => t === 'RESCIND')).toHaveLength(1);
  });

  it('frees nothing for an offer rescinded after its agent left the books', () => {
    parts.accounting.removeAgent('agent-1');

    expect(() => parts.offers.rescind(() => true, 'agent_unreachable', false)).not.toThrow();
    expect([...parts.offers.values()]).toEqual([]);
  });

  it('gives back offers that could not be sent', () => {
    parts.frameworkStream.end();
    parts.offers.rescind(() => true, 'timeout', false);
    parts.allocation.allocate();

    expect([...parts.offers.values()]).toEqual([]);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
  });
});
