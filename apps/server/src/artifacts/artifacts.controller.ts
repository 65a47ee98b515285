import { ARTIFACT_SHA256_HEADER } from '@kiln/contracts';
import {
  Controller,
  Get,
  Header,
  Headers,
  Param,
  Put,
  Query,
  Req,
  Res,
  StreamableFile,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { posix } from 'node:path';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { UuidParam } from '../auth/uuid-param';
import { JobLogQuery } from '../logs/logs.dto';
import { TaskLogTokenGuard } from '../logs/task-log-token.guard';
import { ArtifactResponse } from './artifacts.dto';
import { ArtifactsService } from './artifacts.service';

const NAME_PARAM = {
  name: 'path',
  description: 'The artifact name, relative to the job workspace (`out/app.tar.gz`)',
  example: 'out/app.tar.gz',
};

@ApiTags('artifacts')
@Controller('api/v1')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactsService) {}

  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Put('tasks/:taskId/artifacts/*path')
  @ApiOperation({
    summary: "An agent's upload of one artifact of a task",
    description:
      "For agents: `Authorization: Bearer <task token>` (the task's log token) and " +
      '`x-kiln-sha256`; the body is the raw bytes. A resend replaces the artifact.',
  })
  @ApiParam(NAME_PARAM)
  @ApiHeader({ name: ARTIFACT_SHA256_HEADER, description: 'Lowercase hex SHA-256 of the body' })
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiOkResponse({ type: ArtifactResponse, description: 'Stored' })
  @ApiErrors({
    400: 'A name that is not relative to the workspace, too large, or a checksum mismatch',
    401: "No task token, or not this task's",
    404: 'The task is not the current task of a job',
    409: "The task's job has ended, or its attempt keeps 1,000 artifacts already",
    413: "The artifact would take the job attempt's artifacts over 4 GiB in all",
  })
  upload(
    @Param('taskId') taskId: string,
    @Param('path') path: string | string[],
    @Headers(ARTIFACT_SHA256_HEADER) sha256: string | undefined,
    @Req() req: Request,
  ): Promise<ArtifactResponse> {
    return this.artifacts.upload(taskId, path, sha256, req);
  }

  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Get('tasks/:taskId/inputs/:jobId/*path')
  @Header('x-content-type-options', 'nosniff')
  @ApiOperation({
    summary: 'An artifact of the run a promote task deploys, for its agent',
    description:
      "For agents: `Authorization: Bearer <task token>`. The latest attempt's artifact of a job " +
      'of the promoted run, which the agent writes into the workspace before the job runs.',
  })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({
    description: 'The bytes',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrors({
    400: 'Not an artifact name',
    401: "No task token, or not this task's",
    404: 'Not an artifact of the run the task deploys',
    409: "The task's job has ended",
  })
  async input(
    @Param('taskId') taskId: string,
    @UuidParam('jobId') jobId: string,
    @Param('path') path: string | string[],
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { artifact, body } = await this.artifacts.input(taskId, jobId, path);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader(ARTIFACT_SHA256_HEADER, artifact.sha256);
    return new StreamableFile(body, { length: artifact.size });
  }

  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/artifacts')
  @ApiOperation({ summary: "A job attempt's artifacts (the latest attempt by default)" })
  @ApiOkResponse({ type: [ArtifactResponse] })
  @ApiErrors({ 404: 'The job has no such attempt' })
  list(@Param('jobId') jobId: string, @Query() query: JobLogQuery): Promise<ArtifactResponse[]> {
    return this.artifacts.list(jobId, query.attempt);
  }

  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/artifacts/*path')
  @Header('x-content-type-options', 'nosniff')
  @ApiOperation({ summary: 'Download one artifact of a job attempt (the latest by default)' })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({
    description: 'The bytes',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrors({ 400: 'Not an artifact name', 404: 'No such artifact' })
  async download(
    @Param('jobId') jobId: string,
    @Param('path') path: string | string[],
    @Query() query: JobLogQuery,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { artifact, body } = await this.artifacts.download(jobId, path, query.attempt);
    // Always a download, never rendered by the browser: an artifact is the build's content.
    res.attachment(posix.basename(artifact.name));
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('x-kiln-sha256', artifact.sha256);
    return new StreamableFile(body, { length: artifact.size });
  }
}
