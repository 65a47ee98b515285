import type { Job, Run, RunPage, Schedule, WaitingJob } from '@kiln/persistence';
import { Body, Controller, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { UuidParam } from '../auth/uuid-param';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import { Idempotent } from '../idempotency/idempotent';
import { RepositoriesService } from '../repositories/repositories.service';
import {
  CreateScheduleDto,
  JobResponse,
  ListRunsQuery,
  RunDetailsResponse,
  RunPageResponse,
  RunResponse,
  ScheduleResponse,
  TriggerRunDto,
  WaitingJobResponse,
} from './runs.dto';
import { QueueService } from './queue.service';
import { RunsService, type RunDetails } from './runs.service';
import { SchedulesService } from './schedules.service';

const Uuid = UuidParam;

@ApiTags('runs')
@Controller('api/v1')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly repositories: RepositoriesService,
    private readonly schedules: SchedulesService,
    private readonly queue: QueueService,
  ) {}

  @Allow.user()
  @Get('queue')
  @ApiOperation({
    summary: 'The jobs that wait (queued or blocked), longest waiting first, and why',
    description: 'Only jobs of repositories the caller has a role on (administrators: all).',
  })
  @ApiOkResponse({ type: [WaitingJobResponse] })
  waiting(@CurrentPrincipal() principal: Principal): Promise<WaitingJob[]> {
    return this.queue.waiting(principal);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/runs')
  @ApiOperation({ summary: "A repository's runs, newest first" })
  @ApiOkResponse({ type: RunPageResponse })
  async list(@Uuid('id') id: string, @Query() query: ListRunsQuery): Promise<RunPage> {
    const { limit = 50, ...filters } = query;
    return this.runs.list(id, { limit, ...filters });
  }

  @Allow.repository('developer', 'repository', 'id')
  @Post('repositories/:id/runs')
  @HttpCode(202)
  @ApiOperation({
    summary: "A manual run of a branch (default: the repository's default branch)",
  })
  @ApiAcceptedResponse({ type: RunResponse, description: 'Created; its jobs follow' })
  @ApiErrors({
    422: 'The branch or commit cannot be fetched from the clone URL',
    503: 'The run queue (Redis) is unavailable: no run was created',
  })
  @Idempotent()
  async trigger(
    @Uuid('id') id: string,
    @Body() dto: TriggerRunDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<Run> {
    const repository = await this.repositories.find(id);
    return this.runs.createFromBranch(
      repository,
      'manual',
      dto.branch ?? repository.defaultBranch,
      dto.sha,
      { actor: principal },
    );
  }

  @Allow.repository('viewer', 'run', 'runId')
  @Get('runs/:runId')
  @ApiOperation({ summary: 'A run with its jobs' })
  @ApiOkResponse({ type: RunDetailsResponse })
  get(@Uuid('runId') runId: string): Promise<RunDetails> {
    return this.runs.get(runId);
  }

  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId')
  @ApiOperation({ summary: 'A job: its state, attempt, exit code, and why it waits or ended' })
  @ApiOkResponse({ type: JobResponse })
  job(@Uuid('jobId') jobId: string): Promise<Job> {
    return this.runs.job(jobId);
  }

  @Allow.repository('developer', 'run', 'runId')
  @Post('runs/:runId/cancel')
  @ApiOperation({ summary: 'Cancel a run: end its queued jobs, kill its running tasks' })
  @ApiCreatedResponse({ type: RunDetailsResponse, description: 'Canceled' })
  @ApiErrors({
    403: 'A deployment (a promote run): canceling it takes the release-manager role',
    409: 'The run has already ended',
  })
  cancel(
    @CurrentPrincipal() principal: Principal,
    @Uuid('runId') runId: string,
  ): Promise<RunDetails> {
    return this.runs.cancelAs(principal, runId);
  }

  @Allow.repository('developer', 'run', 'runId')
  @Post('runs/:runId/rerun')
  @HttpCode(202)
  @ApiOperation({ summary: 'A new run of the same commit' })
  @ApiAcceptedResponse({ type: RunResponse, description: 'The new run' })
  @ApiErrors({ 503: 'The run queue (Redis) is unavailable: no run was created' })
  @Idempotent()
  rerun(@Uuid('runId') runId: string): Promise<Run> {
    return this.runs.rerun(runId);
  }

  @Allow.repository('developer', 'run', 'runId')
  @Post('runs/:runId/rerun-failed')
  @HttpCode(202)
  @ApiOperation({
    summary: 'The failed (and canceled, and thereby skipped) jobs again, in the same run',
  })
  @ApiAcceptedResponse({ type: RunDetailsResponse })
  @ApiErrors({
    409: 'The run has not ended, has no failed jobs, or changed meanwhile',
    503: 'The run queue (Redis) is unavailable: no job was rerun',
  })
  @Idempotent()
  rerunFailed(@Uuid('runId') runId: string): Promise<RunDetails> {
    return this.runs.rerunFailed(runId);
  }

  @Allow.repository('developer', 'repository', 'id')
  @Post('repositories/:id/schedules')
  @ApiOperation({ summary: 'A cron schedule (UTC) that starts runs of a branch' })
  @ApiCreatedResponse({ type: ScheduleResponse })
  @ApiErrors({
    400: 'The cron pattern does not parse, or fires more often than once a minute',
    409: 'The repository has a schedule of that name already',
  })
  createSchedule(@Uuid('id') id: string, @Body() dto: CreateScheduleDto): Promise<Schedule> {
    return this.schedules.create(id, dto);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/schedules')
  @ApiOperation({ summary: "A repository's cron schedules" })
  @ApiOkResponse({ type: [ScheduleResponse] })
  listSchedules(@Uuid('id') id: string): Promise<Schedule[]> {
    return this.schedules.list(id);
  }

  @Allow.repository('developer', 'schedule', 'scheduleId')
  @Delete('schedules/:scheduleId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a schedule' })
  @ApiNoContentResponse({ description: 'Removed' })
  deleteSchedule(@Uuid('scheduleId') scheduleId: string): Promise<void> {
    return this.schedules.delete(scheduleId);
  }
}
