import type { Offer } from '@kiln/contracts';
import type { AgentRegistry } from './agent-registry';
import type { FrameworkRegistry } from './framework-registry';
import type { MasterMetrics } from './master.metrics';
import type { OfferBook } from './offer-book';
import type { ResourceAccounting } from './resource-accounting';

/**
 * The allocation loop: runs the allocator (on a timer, and on the next tick after anything that
 * freed resources or changed who wants them) and sends each framework its new offers in one event.
 */
export class AllocationLoop {
  private pending = false;

  constructor(
    private readonly accounting: ResourceAccounting,
    private readonly agents: AgentRegistry,
    private readonly frameworks: FrameworkRegistry,
    private readonly offers: OfferBook,
    private readonly metrics: MasterMetrics,
  ) {}

  /** Allocates on the next tick, once, however many events asked for it meanwhile. */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.allocate();
    });
  }

  allocate(): void {
    const stop = this.metrics.allocationCycle.startTimer();
    const allocations = this.accounting.allocate();
    stop();
    const byFramework = new Map<string, Offer[]>();
    for (const allocation of allocations) {
      const agent = this.agents.get(allocation.agentId);
      if (agent === undefined) {
        this.accounting.releaseOffer(allocation.offerId);
        continue;
      }
      const offer = this.offers.make(allocation, agent);
      const list = byFramework.get(offer.frameworkId) ?? [];
      list.push(offer);
      byFramework.set(offer.frameworkId, list);
    }
    for (const [frameworkId, offers] of byFramework) {
      const framework = this.frameworks.get(frameworkId);
      const sent = framework?.stream?.send({ type: 'OFFERS', offers: { offers } }) === true;
      if (sent) this.metrics.offersMade.inc(offers.length);
      else this.offers.undelivered(offers);
    }
  }
}
