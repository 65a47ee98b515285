import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The master's Prometheus metrics, on a registry of its own (tests run several masters). */
export class MasterMetrics {
  readonly registry = new Registry();

  readonly offersMade = new Counter({
    name: 'kiln_master_offers_made_total',
    help: 'Offers sent to frameworks',
    registers: [this.registry],
  });
  readonly offersAccepted = new Counter({
    name: 'kiln_master_offers_accepted_total',
    help: 'Offers used by an ACCEPT',
    registers: [this.registry],
  });
  readonly offersDeclined = new Counter({
    name: 'kiln_master_offers_declined_total',
    help: 'Offers declined by frameworks',
    registers: [this.registry],
  });
  readonly offersRescinded = new Counter({
    name: 'kiln_master_offers_rescinded_total',
    help: 'Offers taken back: timed out, agent lost, framework gone',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly allocationCycle = new Histogram({
    name: 'kiln_master_allocation_cycle_seconds',
    help: 'Time of one allocation cycle',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly tasks = new Gauge({
    name: 'kiln_master_tasks',
    help: 'Tasks the master knows, by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly agents = new Gauge({
    name: 'kiln_master_agents',
    help: 'Agents by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly frameworks = new Gauge({
    name: 'kiln_master_frameworks',
    help: 'Frameworks by connection',
    labelNames: ['connected'] as const,
    registers: [this.registry],
  });
}
