import { errorMessage } from '@kiln/common';
import {
  DuplicateScheduleError,
  RepositoriesRepository,
  SchedulesRepository,
  type Schedule,
} from '@kiln/persistence';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { PipelineQueues } from './pipeline-queues';
import { scheduleFrequencyProblem } from './schedule-frequency';
import { RunsService } from './runs.service';

/**
 * Cron schedules of repositories: the database holds them, BullMQ's job schedulers fire them
 * (re-registered at every start, so a Redis that lost them gets them back).
 */
@Injectable()
export class SchedulesService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SchedulesService.name);

  constructor(
    private readonly schedules: SchedulesRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly queues: PipelineQueues,
    private readonly runs: RunsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const schedule of await this.schedules.list()) {
      await this.queues.schedule(schedule.id, schedule.cron).catch((error: unknown) => {
        this.logger.error(`cannot register schedule ${schedule.id}: ${errorMessage(error)}`);
      });
    }
  }

  async create(
    repositoryId: string,
    input: { name: string; cron: string; branch?: string },
  ): Promise<Schedule> {
    const repository = await this.repositories.findById(repositoryId);
    if (repository === undefined) {
      throw new NotFoundException(`repository ${repositoryId} does not exist`);
    }
    const tooOften = scheduleFrequencyProblem(input.cron);
    if (tooOften !== undefined) throw new BadRequestException(tooOften);
    let schedule: Schedule;
    try {
      schedule = await this.schedules.create({
        repositoryId,
        name: input.name,
        cron: input.cron,
        branch: input.branch ?? repository.defaultBranch,
      });
    } catch (error) {
      if (error instanceof DuplicateScheduleError) throw new ConflictException(error.message);
      throw error;
    }
    try {
      await this.queues.schedule(schedule.id, schedule.cron);
    } catch (error) {
      await this.schedules.delete(schedule.id);
      throw new BadRequestException(
        `cron ${JSON.stringify(input.cron)} is not a valid cron pattern: ${errorMessage(error)}`,
      );
    }
    return schedule;
  }

  async list(repositoryId: string): Promise<Schedule[]> {
    if ((await this.repositories.findById(repositoryId)) === undefined) {
      throw new NotFoundException(`repository ${repositoryId} does not exist`);
    }
    return this.schedules.list(repositoryId);
  }

  async delete(scheduleId: string): Promise<void> {
    if (!(await this.schedules.delete(scheduleId))) {
      throw new NotFoundException(`schedule ${scheduleId} does not exist`);
    }
    await this.queues.unschedule(scheduleId);
  }

  /** The schedule fired: a run of its branch's head. A schedule deleted meanwhile does nothing. */
  async fire(scheduleId: string): Promise<void> {
    const schedule = await this.schedules.findById(scheduleId);
    const repository = schedule && (await this.repositories.findById(schedule.repositoryId));
    if (schedule === undefined || repository === undefined) return;
    const run = await this.runs.createFromBranch(repository, 'cron', schedule.branch, undefined, {
      schedule: schedule.name,
    });
    this.logger.log(
      `schedule ${schedule.name} started run #${run.number} of ${repository.fullName}`,
    );
  }
}
