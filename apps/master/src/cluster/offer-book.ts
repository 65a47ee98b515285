import type { Offer } from '@kiln/contracts';
import { BadRequestException } from '@nestjs/common';
import type { AgentRecord } from './agent-registry';
import type { FrameworkRegistry } from './framework-registry';
import type { MasterMetrics } from './master.metrics';
import type { OfferHolding, ResourceAccounting } from './resource-accounting';

export interface OfferRecord {
  offer: Offer;
  createdAt: number;
}

/**
 * The offers frameworks were sent and have neither used, declined nor had rescinded. Every way an
 * offer leaves the book gives its resources back through the accounting, except being used: then
 * its tasks hold them.
 */
export class OfferBook {
  private readonly offers = new Map<string, OfferRecord>();

  constructor(
    private readonly accounting: ResourceAccounting,
    private readonly frameworks: FrameworkRegistry,
    private readonly metrics: MasterMetrics,
  ) {}

  /** An allocation on `agent` becomes an offer, described with what the framework matches on. */
  make(holding: OfferHolding, agent: AgentRecord): Offer {
    const offer: Offer = {
      id: holding.offerId,
      frameworkId: holding.frameworkId,
      agentId: holding.agentId,
      hostname: agent.info.hostname,
      role: holding.role,
      resources: holding.resources,
      attributes: agent.info.attributes,
      containerizers: agent.info.containerizers,
    };
    this.offers.set(offer.id, { offer, createdAt: Date.now() });
    return offer;
  }

  values(): IterableIterator<OfferRecord> {
    return this.offers.values();
  }

  /** The framework's outstanding offers of those ids; refused whole if any is not (or repeats). */
  owned(frameworkId: string, offerIds: readonly string[]): Offer[] {
    if (new Set(offerIds).size !== offerIds.length) {
      throw new BadRequestException('an offer id is listed twice');
    }
    return offerIds.map((id) => {
      const record = this.offers.get(id);
      if (record === undefined || record.offer.frameworkId !== frameworkId) {
        throw new BadRequestException(
          `offer ${id} is not an outstanding offer of this framework (unknown, used, declined or rescinded)`,
        );
      }
      return record.offer;
    });
  }

  /** Offers an ACCEPT used: out of the book, their resources now the accounting's tasks'. */
  use(offers: readonly Offer[]): void {
    for (const offer of offers) this.offers.delete(offer.id);
    this.metrics.offersAccepted.inc(offers.length);
  }

  decline(offers: readonly Offer[], refuseSeconds: number): void {
    for (const offer of offers) {
      this.offers.delete(offer.id);
      this.accounting.releaseOffer(offer.id, refuseSeconds);
      this.metrics.offersDeclined.inc();
    }
  }

  /** Offers that could not be sent (the framework's stream closed): given back unseen. */
  undelivered(offers: readonly Offer[]): void {
    for (const offer of offers) {
      this.offers.delete(offer.id);
      this.accounting.releaseOffer(offer.id);
    }
  }

  /**
   * Takes back the offers matching `matches`. The framework is told (RESCIND) only if `notify`:
   * when its agent or the framework itself is gone, the offer is void anyway.
   */
  rescind(matches: (record: OfferRecord) => boolean, reason: string, notify: boolean): void {
    for (const [id, record] of this.offers) {
      if (!matches(record)) continue;
      this.offers.delete(id);
      this.metrics.offersRescinded.inc({ reason });
      this.accounting.releaseOffer(id);
      if (notify) {
        this.frameworks.get(record.offer.frameworkId)?.stream?.send({
          type: 'RESCIND',
          rescind: { offerId: id },
        });
      }
    }
  }
}
