import type { Run, RunPage, Schedule } from '@kiln/persistence';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import { Allow } from '../auth/access';
import { RepositoriesService } from '../repositories/repositories.service';
import { CreateScheduleDto, ListRunsQuery, TriggerRunDto } from './runs.dto';
import { RunsService, type RunDetails } from './runs.service';
import { SchedulesService } from './schedules.service';

const Uuid = (name: string): ParameterDecorator => Param(name, new ParseUUIDPipe({ version: '4' }));

@Controller('api/v1')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly repositories: RepositoriesService,
    private readonly schedules: SchedulesService,
  ) {}

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/runs')
  async list(@Uuid('id') id: string, @Query() query: ListRunsQuery): Promise<RunPage> {
    await this.repositories.find(id);
    return this.runs.list(id, query.limit ?? 50, query.before);
  }

  /** A manual run of a branch (default: the repository's default branch). */
  @Allow.repository('developer', 'repository', 'id')
  @Post('repositories/:id/runs')
  @HttpCode(202)
  async trigger(@Uuid('id') id: string, @Body() dto: TriggerRunDto): Promise<Run> {
    const repository = await this.repositories.find(id);
    return this.runs.createFromBranch(
      repository,
      'manual',
      dto.branch ?? repository.defaultBranch,
      dto.sha,
    );
  }

  @Allow.repository('viewer', 'run', 'runId')
  @Get('runs/:runId')
  get(@Uuid('runId') runId: string): Promise<RunDetails> {
    return this.runs.get(runId);
  }

  @Allow.repository('developer', 'run', 'runId')
  @Post('runs/:runId/cancel')
  cancel(@Uuid('runId') runId: string): Promise<RunDetails> {
    return this.runs.cancel(runId);
  }

  /** A new run of the same commit. */
  @Allow.repository('developer', 'run', 'runId')
  @Post('runs/:runId/rerun')
  @HttpCode(202)
  rerun(@Uuid('runId') runId: string): Promise<Run> {
    return this.runs.rerun(runId);
  }

  /** The failed (and canceled, and thereby skipped) jobs again, in the same run. */
  @Allow.repository('developer', 'run', 'runId')
  @Post('runs/:runId/rerun-failed')
  @HttpCode(202)
  rerunFailed(@Uuid('runId') runId: string): Promise<RunDetails> {
    return this.runs.rerunFailed(runId);
  }

  @Allow.repository('developer', 'repository', 'id')
  @Post('repositories/:id/schedules')
  createSchedule(@Uuid('id') id: string, @Body() dto: CreateScheduleDto): Promise<Schedule> {
    return this.schedules.create(id, dto);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/schedules')
  listSchedules(@Uuid('id') id: string): Promise<Schedule[]> {
    return this.schedules.list(id);
  }

  @Allow.repository('developer', 'schedule', 'scheduleId')
  @Delete('schedules/:scheduleId')
  @HttpCode(204)
  deleteSchedule(@Uuid('scheduleId') scheduleId: string): Promise<void> {
    return this.schedules.delete(scheduleId);
  }
}
