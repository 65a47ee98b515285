import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { ResourcesMessage, TaskInfo, TaskStatus } from './task.messages';
import { ID_PATTERN, Nested } from './validation';

// The scheduler API, modelled on Mesos v1: `POST /api/v1/scheduler` with a SchedulerCall.
// SUBSCRIBE answers with a stream of SchedulerEvents (NDJSON, the stream id in a header);
// every other call is a separate request carrying the framework id and that stream id.

export const SCHEDULER_CALL_TYPES = [
  'SUBSCRIBE',
  'ACCEPT',
  'DECLINE',
  'REVIVE',
  'SUPPRESS',
  'KILL',
  'ACKNOWLEDGE',
  'RECONCILE',
  'TEARDOWN',
] as const;
export type SchedulerCallType = (typeof SCHEDULER_CALL_TYPES)[number];

/** Header that carries the id of an event stream, on SUBSCRIBE's answer and on later calls. */
export const STREAM_ID_HEADER = 'kiln-stream-id';

/** A role's name: what frameworks subscribe to, and what tasks are of. */
export const ROLE_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export class FrameworkInfo {
  @IsString()
  @MaxLength(128)
  name!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(16)
  @Matches(ROLE_PATTERN, { each: true, message: 'each role must be lowercase [a-z0-9_.-]' })
  roles!: string[];

  /** Set when re-subscribing (failover or after a master restart): keeps the framework's tasks. */
  @IsOptional()
  @Matches(ID_PATTERN)
  id?: string;

  /** How long the master keeps the framework's tasks while it is disconnected. */
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(7 * 24 * 3600)
  failoverTimeoutSeconds?: number;
}

export class Subscribe {
  @IsDefined()
  @Nested(() => FrameworkInfo)
  frameworkInfo!: FrameworkInfo;
}

export class OfferFilters {
  /** How long the declined agent is not offered to this framework again (default 5 s). */
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(365 * 24 * 3600)
  refuseSeconds?: number;
}

export class LaunchOperation {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsDefined()
  @Nested(() => TaskInfo, { each: true })
  taskInfos!: TaskInfo[];
}

export class Operation {
  @IsIn(['LAUNCH'])
  type!: 'LAUNCH';

  @IsDefined()
  @Nested(() => LaunchOperation)
  launch!: LaunchOperation;
}

export class Accept {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @Matches(ID_PATTERN, { each: true })
  offerIds!: string[];

  @IsArray()
  @ArrayMaxSize(100)
  @IsDefined()
  @Nested(() => Operation, { each: true })
  operations!: Operation[];

  @IsOptional()
  @Nested(() => OfferFilters)
  filters?: OfferFilters;
}

export class Decline {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @Matches(ID_PATTERN, { each: true })
  offerIds!: string[];

  @IsOptional()
  @Nested(() => OfferFilters)
  filters?: OfferFilters;
}

export class RolesSelection {
  /** Unset: every role of the framework. */
  @IsOptional()
  @IsArray()
  @Matches(ROLE_PATTERN, { each: true })
  roles?: string[];
}

export class Kill {
  @Matches(ID_PATTERN)
  taskId!: string;
}

export class Acknowledge {
  @Matches(ID_PATTERN)
  agentId!: string;

  @Matches(ID_PATTERN)
  taskId!: string;

  @IsString()
  @MaxLength(64)
  uuid!: string;
}

export class ReconcileTask {
  @Matches(ID_PATTERN)
  taskId!: string;

  @IsOptional()
  @Matches(ID_PATTERN)
  agentId?: string;
}

/**
 * The most tasks one explicit RECONCILE may name. Its answer is an update per task, about 2.5 MB
 * for 10,000, which a subscriber's stream holds with room to spare (a stream that falls 16 MiB
 * behind is dropped); a framework with more tasks sends several calls, as Kiln's client does.
 */
export const MAX_RECONCILE_TASKS = 10_000;

export class Reconcile {
  /** Empty: implicit reconciliation, the latest state of every task the master knows. */
  @IsArray()
  @ArrayMaxSize(MAX_RECONCILE_TASKS, {
    message: ({ value }) =>
      `tasks names ${(value as unknown[]).length} tasks: one RECONCILE may name at most ` +
      `${MAX_RECONCILE_TASKS}; send them in several calls`,
  })
  @IsDefined()
  @Nested(() => ReconcileTask, { each: true })
  tasks!: ReconcileTask[];
}

const is =
  (...types: SchedulerCallType[]) =>
  (call: SchedulerCall): boolean =>
    types.includes(call.type);

export class SchedulerCall {
  @IsIn(SCHEDULER_CALL_TYPES)
  type!: SchedulerCallType;

  /** Every call but SUBSCRIBE names the framework the master gave at SUBSCRIBED. */
  @ValidateIf((call: SchedulerCall) => call.type !== 'SUBSCRIBE')
  @IsDefined()
  @Matches(ID_PATTERN)
  frameworkId?: string;

  @ValidateIf(is('SUBSCRIBE'))
  @IsDefined()
  @Nested(() => Subscribe)
  subscribe?: Subscribe;

  @ValidateIf(is('ACCEPT'))
  @IsDefined()
  @Nested(() => Accept)
  accept?: Accept;

  @ValidateIf(is('DECLINE'))
  @IsDefined()
  @Nested(() => Decline)
  decline?: Decline;

  @ValidateIf(is('REVIVE'))
  @IsOptional()
  @Nested(() => RolesSelection)
  revive?: RolesSelection;

  @ValidateIf(is('SUPPRESS'))
  @IsOptional()
  @Nested(() => RolesSelection)
  suppress?: RolesSelection;

  @ValidateIf(is('KILL'))
  @IsDefined()
  @Nested(() => Kill)
  kill?: Kill;

  @ValidateIf(is('ACKNOWLEDGE'))
  @IsDefined()
  @Nested(() => Acknowledge)
  acknowledge?: Acknowledge;

  @ValidateIf(is('RECONCILE'))
  @IsDefined()
  @Nested(() => Reconcile)
  reconcile?: Reconcile;
}

// ---- Events: master → framework ---------------------------------------------------------------

export class Offer {
  @Matches(ID_PATTERN)
  id!: string;

  @Matches(ID_PATTERN)
  frameworkId!: string;

  @Matches(ID_PATTERN)
  agentId!: string;

  @IsString()
  hostname!: string;

  @IsString()
  role!: string;

  @IsDefined()
  @Nested(() => ResourcesMessage)
  resources!: ResourcesMessage;

  @IsOptional()
  attributes?: Record<string, string>;

  /** Containerizers the agent can run tasks with. */
  @IsArray()
  @IsString({ each: true })
  containerizers!: string[];
}

export const SCHEDULER_EVENT_TYPES = [
  'SUBSCRIBED',
  'OFFERS',
  'RESCIND',
  'UPDATE',
  'FAILURE',
  'ERROR',
  'HEARTBEAT',
] as const;
export type SchedulerEventType = (typeof SCHEDULER_EVENT_TYPES)[number];

export interface SubscribedEvent {
  type: 'SUBSCRIBED';
  subscribed: { frameworkId: string; heartbeatIntervalSeconds: number };
}
export interface OffersEvent {
  type: 'OFFERS';
  offers: { offers: Offer[] };
}
export interface RescindEvent {
  type: 'RESCIND';
  rescind: { offerId: string };
}
export interface UpdateEvent {
  type: 'UPDATE';
  update: { status: TaskStatus };
}
export interface FailureEvent {
  type: 'FAILURE';
  failure: { agentId: string; message: string };
}
export interface ErrorEvent {
  type: 'ERROR';
  error: { message: string };
}
export interface HeartbeatEvent {
  type: 'HEARTBEAT';
}

export type SchedulerEvent =
  | SubscribedEvent
  | OffersEvent
  | RescindEvent
  | UpdateEvent
  | FailureEvent
  | ErrorEvent
  | HeartbeatEvent;
