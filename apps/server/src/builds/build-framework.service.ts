import { backoffDelay, errorMessage, sleep } from '@kiln/common';
import { ServerEnv } from '@kiln/config';
import {
  isTerminal,
  type Offer,
  type SchedulerEvent,
  type TaskInfo,
  type TaskStatus,
} from '@kiln/contracts';
import { RecordingBatches, SettingsRepository } from '@kiln/persistence';
import { SchedulerClient, type SchedulerCallError } from '@kiln/scheduler';
import {
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { BuildOutcomes, type Recorded } from './build-outcomes';
import { ClusterStateClient, unplaceableReason } from './cluster-state.client';
import { DemandQueue } from './demand-queue';
import { Turns, type Turn } from './turns';

export const FRAMEWORK_NAME = 'kiln-builds';
const FRAMEWORK_ID_SETTING = 'build-framework-id';
/** How long the master keeps our tasks while the server is away (restarts, upgrades). */
const FAILOVER_TIMEOUT_SECONDS = 24 * 3600;
/** Offers that fit no demand are refused this long (Mesos' default). */
const REFUSE_SECONDS = 5;
/** A give-up that could not be recorded (the database was away) is tried again this soon. */
const GIVE_UP_RETRY_MS = 5_000;
/**
 * Task updates recorded in one transaction at most: after a restart the answers to
 * reconciliation come by the hundred, and one commit each would queue them behind each other.
 */
const UPDATES_PER_TRANSACTION = 100;
/**
 * Transactions of updates at once: one slow commit does not hold up the next batch, and the
 * database's pool keeps connections for everyone else (SQLite has one, and takes them in turn).
 */
const UPDATE_TRANSACTIONS_AT_ONCE = 2;

/** What the framework does once an update has been recorded (a kill, a wait for the agent). */
type Consequence = () => void;

export type PlaceOutcome =
  | { outcome: 'launched'; taskId: string }
  | { outcome: 'dropped' }
  | { outcome: 'unplaceable'; reason: string };

interface Demand {
  jobId: string;
  attempt: number;
  task: TaskInfo;
  image: string | undefined;
  settle: (outcome: PlaceOutcome) => void;
}

/**
 * Kiln's CI as a framework of its own cluster (Mesos' two-level scheduling): queued jobs become
 * demands; with demand it REVIVEs, without it SUPPRESSes; offers are matched to demands by
 * resources and containerizer, ACCEPTed with LAUNCHes, and the rest DECLINEd with a refuse
 * filter. Task updates are acknowledged after the runs service has recorded them and the
 * transaction has committed, so none is lost across a restart. After every (re)subscription it
 * asks the master about the tasks the database says are out there (RECONCILE) before it launches
 * anything new; as every task id is claimed in the database before its launch, no job runs twice.
 *
 * Events are handled as they come, not one after another: a task's updates in order (one queue
 * per task), offers at once, so an offer never waits behind the recording of another task's
 * update (after a restart, the answers to reconciliation arrive by the hundred). The updates of
 * different tasks that arrive together are recorded together, in one transaction; each is
 * acknowledged once that has committed and what followed it (its run moved on) is done.
 *
 * Partitions, as Mesos' partition-aware frameworks see them: TASK_UNREACHABLE is not an end. The
 * job keeps its attempt and waits for the agent; only after KILN_BUILD_PARTITION_TIMEOUT_MS (from
 * when the master lost the agent) is the task given up: its attempt ends as lost, the job retries
 * or fails, and the task is killed should its agent ever return. Until then, whatever the task
 * reports when its agent returns (RUNNING, FINISHED…) is its job's truth.
 */
@Injectable()
export class BuildFrameworkService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(BuildFrameworkService.name);
  private readonly client: SchedulerClient;
  private readonly cluster: ClusterStateClient;
  private readonly demands = new DemandQueue<Demand>();
  /** The order in which demands join `demands` (see `takeTurn`). */
  private readonly turns = new Turns();
  private readonly stopSignal = new AbortController();
  private running: Promise<void> | undefined;
  private connected = false;
  /** Launching waits for this after each subscription: the RECONCILE call goes first. */
  private reconcileSent: Promise<void> = Promise.resolve();
  /** The tail of each task's queue of updates: a task's updates are recorded in order. */
  private readonly taskQueues = new Map<string, Promise<void>>();
  /** Handlers still running, waited for at shutdown. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Tasks on unreachable agents: when each is given up. */
  private readonly giveUps = new Map<string, NodeJS.Timeout>();
  /** What the master was last told: undefined = unknown (after a subscription). */
  private suppressed: boolean | undefined;
  /** Demand arrived since the last REVIVE went out: the next word to the master is a REVIVE. */
  private reviveWanted = false;
  private interest: Promise<void> = Promise.resolve();
  private readonly kills = new Set<string>();
  private readonly recordings: RecordingBatches<() => Promise<Consequence>, Recorded<Consequence>>;

  constructor(
    private readonly env: ServerEnv,
    private readonly outcomes: BuildOutcomes,
    private readonly settings: SettingsRepository,
    // Unit specs pass fakes; the application talks to the master named by the environment.
    @Optional() client?: SchedulerClient,
    @Optional() cluster?: ClusterStateClient,
  ) {
    this.client =
      client ??
      new SchedulerClient({
        masterUrl: env.KILN_MASTER_URL,
        token: env.KILN_CLUSTER_TOKEN,
        transport: 'websocket',
      });
    this.cluster = cluster ?? new ClusterStateClient(env.KILN_MASTER_URL, env.KILN_CLUSTER_TOKEN);
    this.recordings = new RecordingBatches(
      (recordings) => this.outcomes.recordTogether(recordings),
      { maxSize: UPDATES_PER_TRANSACTION, maxInFlight: UPDATE_TRANSACTIONS_AT_ONCE },
    );
  }

  onApplicationBootstrap(): void {
    this.running = this.connectLoop();
  }

  /** Before the queues close: their workers wait for the demands this settles. */
  beforeApplicationShutdown(): void {
    // Tasks keep running: the next server re-subscribes with this framework id and reconciles.
    this.stopSignal.abort();
    for (const demand of this.demands.values()) demand.settle({ outcome: 'dropped' });
    this.demands.clear();
    // The next server arms them again from the master's answers to its reconciliation.
    for (const timer of this.giveUps.values()) clearTimeout(timer);
    this.giveUps.clear();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.running;
    await Promise.allSettled([...this.inFlight]);
  }

  get stopping(): boolean {
    return this.stopSignal.signal.aborted;
  }

  get frameworkId(): string | undefined {
    return this.client.frameworkId;
  }

  /**
   * A job attempt's place in line for room on the cluster, to be taken as soon as the attempt is
   * taken up (before its task is prepared) and handed to `place`, which passes it. Demands are
   * matched oldest first, and a demand's age is its turn: a job queued before another is offered
   * room first, not whichever's reads and writes came back first. Whoever takes a turn and does
   * not place it must pass it.
   */
  takeTurn(): Turn {
    return this.turns.take();
  }

  /**
   * Asks the cluster for room for a job attempt's task; resolves once it is launched (handed to
   * an agent through the master), dropped (the job moved on, or the server stops), or found
   * unplaceable on the cluster as it is. Its turn, by default, is taken now.
   */
  async place(
    jobId: string,
    attempt: number,
    task: TaskInfo,
    turn = this.takeTurn(),
  ): Promise<PlaceOutcome> {
    let placed: Promise<PlaceOutcome>;
    try {
      const image = task.container?.image;
      const need = {
        cpus: task.resources.cpus,
        mem: task.resources.mem,
        ...(image ? { image } : {}),
      };
      try {
        const reason = unplaceableReason(await this.cluster.agents(), need);
        if (reason !== undefined) return { outcome: 'unplaceable', reason };
      } catch (error) {
        this.logger.debug(`cannot read the cluster's agents: ${errorMessage(error)}`);
      }
      await this.outcomes.waiting(
        jobId,
        `waiting for an offer of ${need.cpus} cpus and ${need.mem} MB` +
          (image === undefined ? '' : ' on an agent with Docker'),
      );
      // Not before the demands of earlier turns: were it queued first, an offer could go to it
      // while an earlier job (one before it in its pipeline, say) is still being made ready.
      await turn.earlierPassed;
      // Nobody would settle a demand queued once the server stops.
      if (this.stopping) return { outcome: 'dropped' };
      placed = new Promise<PlaceOutcome>((resolve) => {
        this.demands.add({ jobId, attempt, task, image, settle: resolve });
        this.updateInterest(true);
      });
    } finally {
      // Queued, unplaceable or failed: later turns need not wait for this one.
      turn.pass();
    }
    return placed;
  }

  /** Kills a task; repeated when the task shows up again before it has ended. */
  kill(taskId: string): void {
    const demand = this.demands.get(taskId);
    if (demand !== undefined) {
      this.demands.delete(taskId);
      demand.settle({ outcome: 'dropped' });
      this.updateInterest();
    }
    this.kills.add(taskId);
    if (this.connected) this.sendKill(taskId);
  }

  // ---- Connection -----------------------------------------------------------------------------

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    let lastFailure: string | undefined;
    while (!this.stopSignal.signal.aborted) {
      try {
        const id = await this.settings.get(FRAMEWORK_ID_SETTING);
        const events = await this.client.subscribe(
          {
            name: FRAMEWORK_NAME,
            roles: [this.env.KILN_BUILD_ROLE],
            failoverTimeoutSeconds: FAILOVER_TIMEOUT_SECONDS,
            ...(id === undefined ? {} : { id }),
          },
          this.stopSignal.signal,
        );
        const frameworkId = this.client.frameworkId;
        if (frameworkId !== undefined && frameworkId !== id) {
          await this.settings.set(FRAMEWORK_ID_SETTING, frameworkId);
        }
        this.logger.log(
          `subscribed to the master at ${this.env.KILN_MASTER_URL} as ${FRAMEWORK_NAME} (${frameworkId})`,
        );
        attempt = 0;
        lastFailure = undefined;
        this.connected = true;
        this.suppressed = undefined;
        this.reconcileSent = this.reconcile();
        this.updateInterest();
        for (const taskId of this.kills) this.sendKill(taskId);
        for await (const event of events) this.dispatch(event);
        if (!this.stopSignal.signal.aborted) this.logger.warn('the master ended the stream');
      } catch (error) {
        if (!this.stopSignal.signal.aborted) {
          const status = (error as Partial<SchedulerCallError>).status;
          const message =
            `cannot subscribe to the master at ${this.env.KILN_MASTER_URL}: ${errorMessage(error)}` +
            (status === 401 ? ' (check KILN_CLUSTER_TOKEN)' : '');
          // One warning per kind of failure, not one per retry.
          if (message === lastFailure) this.logger.debug(message);
          else this.logger.warn(message);
          lastFailure = message;
        }
      }
      this.connected = false;
      attempt += 1;
      await sleep(backoffDelay(attempt, 100, 5_000), this.stopSignal.signal);
    }
  }

  /**
   * Asks the master about every task the database says is out there. Launching waits only for
   * the call, not for the answers: a task id is claimed in the database before its launch, so no
   * launch can repeat a task the answers are about, and answers are recorded as they come.
   */
  private async reconcile(): Promise<void> {
    try {
      const tasks = await this.outcomes.activeTasks();
      if (tasks.length === 0) return;
      this.logger.log(`reconciling ${tasks.length} task(s)`);
      await this.client.reconcile(tasks);
    } catch (error) {
      // The next subscription reconciles again; the tasks' own updates keep coming meanwhile.
      this.logger.error(`reconciliation failed: ${errorMessage(error)}`);
    }
  }

  /** Starts handling one event of the master's stream; never waits for another's handling. */
  private dispatch(event: SchedulerEvent): void {
    switch (event.type) {
      case 'OFFERS':
        this.track(this.onOffers(event.offers.offers));
        return;
      case 'UPDATE': {
        const status = event.update.status;
        this.serially(status.taskId, () => this.onUpdate(status));
        return;
      }
      case 'ERROR':
        this.logger.error(`the master says: ${event.error.message}`);
        return;
      case 'FAILURE':
        this.logger.warn(`agent ${event.failure.agentId} failed: ${event.failure.message}`);
        return;
      case 'RESCIND':
      case 'HEARTBEAT':
      case 'SUBSCRIBED':
        return;
    }
  }

  /** Runs `work` after whatever is queued for the task: one task's updates stay in order. */
  private serially(taskId: string, work: () => Promise<void>): void {
    const next = (this.taskQueues.get(taskId) ?? Promise.resolve()).then(work);
    this.taskQueues.set(taskId, next);
    this.track(
      next.finally(() => {
        if (this.taskQueues.get(taskId) === next) this.taskQueues.delete(taskId);
      }),
    );
  }

  private track(work: Promise<void>): void {
    const handled = work.catch((error: unknown) => {
      this.logger.error(`handling an event of the master failed: ${errorMessage(error)}`);
    });
    this.inFlight.add(handled);
    void handled.finally(() => this.inFlight.delete(handled));
  }

  /**
   * REVIVE on new demand, SUPPRESS without any. Every new demand revives, not only the first:
   * REVIVE also clears the decline filters, and an agent declined a moment ago for lack of
   * fitting demand (the Docker agent, say) must be offered again to a job that fits it. Calls are
   * serialized so the last word wins, and a burst of demand sends one REVIVE per call in flight.
   */
  private updateInterest(newDemand = false): void {
    if (newDemand) this.reviveWanted = true;
    if (!this.connected) return;
    this.interest = this.interest.then(async () => {
      const want = this.demands.size > 0;
      const revive = want && (this.suppressed !== false || this.reviveWanted);
      if (!revive && this.suppressed === !want) return;
      this.reviveWanted = false;
      try {
        if (revive) await this.client.revive();
        else await this.client.suppress();
        this.suppressed = !want;
      } catch (error) {
        if (revive) this.reviveWanted = true;
        this.logger.debug(`${revive ? 'REVIVE' : 'SUPPRESS'} failed: ${errorMessage(error)}`);
      }
    });
  }

  private sendKill(taskId: string): void {
    this.client.kill(taskId).catch((error: unknown) => {
      this.logger.warn(`KILL of ${taskId} failed: ${errorMessage(error)}`);
    });
  }

  // ---- Offers ---------------------------------------------------------------------------------

  /** Matches the offers one after the other (each takes its demands), then answers all at once. */
  private async onOffers(offers: Offer[]): Promise<void> {
    await this.reconcileSent;
    const matched = offers.map((offer) => ({ offer, chosen: this.demands.match(offer) }));
    await Promise.all(matched.map(({ offer, chosen }) => this.answer(offer, chosen)));
    this.updateInterest();
  }

  /** ACCEPTs `offer` with the launches of the demands chosen for it, or DECLINEs it. */
  private async answer(offer: Offer, chosen: Demand[]): Promise<void> {
    if (chosen.length === 0) {
      await this.decline(offer, this.demands.size > 0 ? REFUSE_SECONDS : 60);
      return;
    }
    const claims = await Promise.all(
      chosen.map((d) =>
        this.outcomes.claimLaunch(d.jobId, d.attempt, d.task.taskId, offer.agentId),
      ),
    );
    const launches = chosen.filter((demand, i) => {
      if (claims[i] === true) return true;
      this.settle(demand, { outcome: 'dropped' });
      return false;
    });
    if (launches.length === 0) {
      await this.decline(offer, 0);
      return;
    }
    try {
      await this.client.accept(
        [offer.id],
        launches.map((d) => d.task),
        REFUSE_SECONDS,
      );
      for (const demand of launches) {
        this.settle(demand, { outcome: 'launched', taskId: demand.task.taskId });
      }
    } catch (error) {
      if (typeof (error as Partial<SchedulerCallError>).status === 'number') {
        // The master refused it (a rescinded offer, say) and launched nothing: the demands wait
        // for another offer.
        this.logger.warn(`ACCEPT of offer ${offer.id} refused: ${errorMessage(error)}`);
        for (const demand of launches) {
          // Offered again only once its claim is gone: another offer's claim would fail on it.
          try {
            await this.outcomes.releaseLaunch(demand.jobId, demand.task.taskId);
          } finally {
            this.demands.release(demand.task.taskId);
          }
        }
        return;
      }
      // No answer (the master killed between its LAUNCH and its reply, a timeout): the tasks may
      // be running. Launched again they could run an attempt twice, so they keep their claims
      // and are reconciled; should the cluster never have had them, TASK_UNKNOWN launches the
      // jobs anew (as after a server restart). A new master is asked on re-subscription.
      this.logger.warn(
        `ACCEPT of offer ${offer.id} got no answer (${errorMessage(error)}): reconciling its tasks`,
      );
      for (const demand of launches) {
        this.settle(demand, { outcome: 'launched', taskId: demand.task.taskId });
      }
      this.client
        .reconcile(
          launches.map((demand) => ({ taskId: demand.task.taskId, agentId: offer.agentId })),
        )
        .catch((reconcileError: unknown) => {
          this.logger.debug(`RECONCILE failed: ${errorMessage(reconcileError)}`);
        });
    }
  }

  private settle(demand: Demand, outcome: PlaceOutcome): void {
    this.demands.delete(demand.task.taskId);
    demand.settle(outcome);
  }

  private async decline(offer: Offer, refuseSeconds: number): Promise<void> {
    await this.client.decline([offer.id], refuseSeconds).catch((error: unknown) => {
      this.logger.debug(`DECLINE of offer ${offer.id} failed: ${errorMessage(error)}`);
    });
  }

  // ---- Updates --------------------------------------------------------------------------------

  /**
   * Records an update (with the others of its moment) and acknowledges it once recorded: a crash
   * before the commit leaves it unacknowledged, and the agent sends it again.
   */
  private async onUpdate(status: TaskStatus): Promise<void> {
    const taskId = status.taskId;
    try {
      const recorded = await this.recordings.submit(() => this.record(status));
      await recorded.finish();
      recorded.value();
    } catch (error) {
      // Not acknowledged: the agent resends it, and we try again.
      this.logger.error(`recording ${status.state} of ${taskId} failed: ${errorMessage(error)}`);
      return;
    }
    await this.client.acknowledge(status).catch((error: unknown) => {
      this.logger.debug(`ACKNOWLEDGE of ${taskId} failed: ${errorMessage(error)}`);
    });
  }

  /**
   * Records one update, inside the transaction of its batch; answers what the framework does
   * about it once that has committed (a kill, a wait for the agent), never before: should the
   * transaction fail, the update comes again.
   */
  private async record(status: TaskStatus): Promise<Consequence> {
    const taskId = status.taskId;
    if (status.state === 'TASK_UNKNOWN') {
      // Nothing to give up or kill: the cluster has no such task (any more).
      this.disarmGiveUp(taskId);
      this.kills.delete(taskId);
      await this.outcomes.taskUnknown(taskId);
      return () => undefined;
    }
    if (status.state === 'TASK_UNREACHABLE') {
      // Not an end: the agent may come back with the task done or still running.
      const givenUpAt =
        (status.unreachableTime ?? status.timestamp) * 1000 +
        this.env.KILN_BUILD_PARTITION_TIMEOUT_MS;
      const keep = await this.outcomes.taskUnreachable(status, new Date(givenUpAt));
      return () => {
        if (!keep || this.kills.has(taskId)) this.kill(taskId);
        else this.armGiveUp(taskId, status.agentId, givenUpAt);
      };
    }
    if (isTerminal(status.state)) {
      this.disarmGiveUp(taskId);
      this.kills.delete(taskId);
      await this.outcomes.taskEnded(status);
      return () => undefined;
    }
    this.disarmGiveUp(taskId);
    const keep = await this.outcomes.taskStarted(status);
    return () => {
      if (!keep || this.kills.has(taskId)) this.kill(taskId);
    };
  }

  // ---- Partitions -----------------------------------------------------------------------------

  /** Gives the task up at `at` (ms since the epoch) unless its agent returns first. */
  private armGiveUp(taskId: string, agentId: string | undefined, at: number): void {
    if (this.giveUps.has(taskId) || this.stopping) return;
    const timer = setTimeout(
      () => this.serially(taskId, () => this.giveUp(taskId, agentId)),
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.giveUps.set(taskId, timer);
  }

  private disarmGiveUp(taskId: string): void {
    clearTimeout(this.giveUps.get(taskId));
    this.giveUps.delete(taskId);
  }

  private async giveUp(taskId: string, agentId: string | undefined): Promise<void> {
    // Disarmed while queued behind the task's other updates: its agent came back.
    if (!this.giveUps.delete(taskId)) return;
    const seconds = Math.round(this.env.KILN_BUILD_PARTITION_TIMEOUT_MS / 1000);
    try {
      await this.outcomes.taskGivenUp(
        taskId,
        `agent ${agentId ?? '(unknown)'} unreachable for more than ${seconds} s: the task is given up as lost`,
      );
    } catch (error) {
      this.logger.error(`giving up task ${taskId} failed: ${errorMessage(error)}`);
      this.armGiveUp(taskId, agentId, Date.now() + GIVE_UP_RETRY_MS);
      return;
    }
    this.logger.warn(`task ${taskId} given up: agent ${agentId} unreachable for ${seconds} s`);
    // Should the agent come back with it still running, it is killed: its job has moved on.
    this.kill(taskId);
  }
}
