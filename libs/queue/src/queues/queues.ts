import { plainToInstance } from 'class-transformer';
import { IsIn, IsInt, IsUUID, Min, validateSync } from 'class-validator';

/** Every Kiln queue, under the `kiln` key prefix in Redis. */
export const QUEUE_PREFIX = 'kiln';

export const QUEUES = {
  /** A pending run: read its `.kiln.yml`, compile, create its jobs. */
  triggers: 'triggers',
  /** A queued job attempt: the build framework turns it into a demand for cluster resources. */
  builds: 'builds',
  /** A run's state to report to its forge as a commit status. */
  statuses: 'statuses',
  /** Cron schedules fire here (BullMQ job schedulers). */
  schedules: 'schedules',
  /** Promotions' follow-ups: a deploy run ended (free the lock), an approval request expired. */
  promotions: 'promotions',
  /** Artifact retention sweeps: an hourly job scheduler, and one sweep after every start. */
  artifactRetention: 'artifact-retention',
} as const;

export class TriggerPayload {
  @IsUUID()
  runId!: string;
}

export class BuildPayload {
  @IsUUID()
  jobId!: string;

  @IsInt()
  @Min(1)
  attempt!: number;
}

export const REPORTED_STATES = [
  'pending',
  'running',
  'success',
  'failure',
  'error',
  'canceled',
] as const;

export class StatusPayload {
  @IsUUID()
  runId!: string;

  @IsIn(REPORTED_STATES)
  state!: (typeof REPORTED_STATES)[number];
}

export class SchedulePayload {
  @IsUUID()
  scheduleId!: string;
}

export const PROMOTION_EVENTS = ['deploy-ended', 'expire'] as const;

/** `deploy-ended`: `id` is a promote run that ended; `expire`: `id` is a promotion. */
export class PromotionPayload {
  @IsIn(PROMOTION_EVENTS)
  kind!: (typeof PROMOTION_EVENTS)[number];

  @IsUUID()
  id!: string;
}

/** A queue payload failed validation: retrying cannot help. */
export class InvalidPayloadError extends Error {
  constructor(queue: string, details: string) {
    super(`invalid ${queue} payload: ${details}`);
    this.name = 'InvalidPayloadError';
  }
}

/**
 * Validates queue data on both ends: BullMQ data never passes the HTTP ValidationPipe, and a
 * producer of another version may have written it.
 */
export function toPayload<T extends object>(cls: new () => T, queue: string, data: unknown): T {
  const payload = plainToInstance(cls, data);
  if (typeof payload !== 'object' || payload === null) {
    throw new InvalidPayloadError(queue, 'not an object');
  }
  const errors = validateSync(payload, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    throw new InvalidPayloadError(
      queue,
      errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '),
    );
  }
  return payload;
}
