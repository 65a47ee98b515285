import {
  ArrayMaxSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import {
  CONTAINERIZERS,
  ResourcesMessage,
  TaskInfo,
  TaskStatus,
  type ContainerizerName,
} from './task.messages';
import { ROLE_PATTERN } from './scheduler.messages';
import { ID_PATTERN, IsStringRecord, Nested } from './validation';
import { TASK_STATES, type TaskState } from './task-state';

// The agent API: `POST /api/v1/agent`. An agent SUBSCRIBEs (registers, or re-registers with the
// tasks it runs) and gets a stream of AgentEvents (LAUNCH, KILL, ACKNOWLEDGED); HEARTBEAT and
// UPDATE are separate requests carrying the agent id and the stream id. Agents open every
// connection: they need no listening port, so they work behind NAT and firewalls.

export const AGENT_CALL_TYPES = ['SUBSCRIBE', 'HEARTBEAT', 'UPDATE'] as const;
export type AgentCallType = (typeof AGENT_CALL_TYPES)[number];

export class AgentInfo {
  /** Stable across agent restarts (kept in the agent's data directory). */
  @Matches(ID_PATTERN)
  id!: string;

  @IsString()
  @MaxLength(255)
  hostname!: string;

  @IsDefined()
  @Nested(() => ResourcesMessage)
  resources!: ResourcesMessage;

  @IsStringRecord(100)
  attributes!: Record<string, string>;

  @IsArray()
  @IsIn(CONTAINERIZERS, { each: true })
  containerizers!: ContainerizerName[];

  @IsString()
  @MaxLength(64)
  version!: string;
}

/** A task the agent still knows when it (re-)subscribes, so the master can reconcile it. */
export class AgentTask {
  @Matches(ID_PATTERN)
  frameworkId!: string;

  @Matches(ROLE_PATTERN, { message: 'role must be lowercase [a-z0-9_.-]' })
  role!: string;

  @IsDefined()
  @Nested(() => TaskInfo)
  taskInfo!: TaskInfo;

  /** The latest state the agent knows, acknowledged or not. */
  @IsIn(TASK_STATES)
  state!: TaskState;
}

export class AgentSubscribe {
  @IsDefined()
  @Nested(() => AgentInfo)
  agentInfo!: AgentInfo;

  @IsArray()
  @ArrayMaxSize(100_000)
  @IsDefined()
  @Nested(() => AgentTask, { each: true })
  tasks!: AgentTask[];
}

export class AgentUpdate {
  @Matches(ID_PATTERN)
  frameworkId!: string;

  @IsDefined()
  @Nested(() => TaskStatus)
  status!: TaskStatus;

  /**
   * The task's state on the agent as it sends this update, which may be later than `status`
   * (Mesos' `latest_state`): updates go to the framework in order, but the master frees a task's
   * resources the first time it learns the task has ended, not once the framework has
   * acknowledged every update before that one.
   */
  @IsOptional()
  @IsIn(TASK_STATES)
  latestState?: TaskState;
}

export class AgentCall {
  @IsIn(AGENT_CALL_TYPES)
  type!: AgentCallType;

  @ValidateIf((call: AgentCall) => call.type !== 'SUBSCRIBE')
  @IsDefined()
  @Matches(ID_PATTERN)
  agentId?: string;

  @ValidateIf((call: AgentCall) => call.type === 'SUBSCRIBE')
  @IsDefined()
  @Nested(() => AgentSubscribe)
  subscribe?: AgentSubscribe;

  @ValidateIf((call: AgentCall) => call.type === 'UPDATE')
  @IsDefined()
  @Nested(() => AgentUpdate)
  update?: AgentUpdate;
}

// ---- Events: master → agent --------------------------------------------------------------------

export const AGENT_EVENT_TYPES = [
  'SUBSCRIBED',
  'LAUNCH',
  'KILL',
  'ACKNOWLEDGED',
  'HEARTBEAT',
] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

export class AgentSubscribed {
  @Matches(ID_PATTERN)
  agentId!: string;

  @IsInt()
  @Min(100)
  @Max(3_600_000)
  heartbeatIntervalMs!: number;
}

export class AgentLaunch {
  @Matches(ID_PATTERN)
  frameworkId!: string;

  @Matches(ROLE_PATTERN, { message: 'role must be lowercase [a-z0-9_.-]' })
  role!: string;

  @IsDefined()
  @Nested(() => TaskInfo)
  task!: TaskInfo;
}

export class AgentKill {
  @Matches(ID_PATTERN)
  frameworkId!: string;

  @Matches(ID_PATTERN)
  taskId!: string;
}

export class AgentAcknowledged {
  @Matches(ID_PATTERN)
  taskId!: string;

  @IsString()
  @MaxLength(64)
  uuid!: string;
}

export class AgentEvent {
  @IsIn(AGENT_EVENT_TYPES)
  type!: AgentEventType;

  @ValidateIf((event: AgentEvent) => event.type === 'SUBSCRIBED')
  @IsDefined()
  @Nested(() => AgentSubscribed)
  subscribed?: AgentSubscribed;

  @ValidateIf((event: AgentEvent) => event.type === 'LAUNCH')
  @IsDefined()
  @Nested(() => AgentLaunch)
  launch?: AgentLaunch;

  @ValidateIf((event: AgentEvent) => event.type === 'KILL')
  @IsDefined()
  @Nested(() => AgentKill)
  kill?: AgentKill;

  @ValidateIf((event: AgentEvent) => event.type === 'ACKNOWLEDGED')
  @IsDefined()
  @Nested(() => AgentAcknowledged)
  acknowledged?: AgentAcknowledged;
}
