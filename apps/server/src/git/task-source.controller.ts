import { Controller, Get, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { TaskLogTokenGuard } from '../logs/task-log-token.guard';
import { CommitPacks, PACK_MEDIA_TYPE } from './commit-pack';
import { serveUploadPack } from './git-http-backend';
import { TaskSource } from './task-source.service';

const FOR_AGENTS =
  "For agents, through git: `git fetch <server>/api/v1/tasks/<taskId>/source.git <sha>`, the task's " +
  'token as the password of Basic credentials (or `Authorization: Bearer <token>`). ';

/**
 * The commit of a task, served from the server's mirror to the task's agent: as one pack over
 * plain HTTP (what Kiln's agents fetch), or over git's smart HTTP. Fetches only: a push is refused
 * before git is even started.
 */
@ApiTags('source')
@Controller('api/v1/tasks/:taskId')
export class TaskSourceController {
  constructor(
    private readonly source: TaskSource,
    private readonly packs: CommitPacks,
  ) {}

  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Get('source.git/info/refs')
  @ApiOperation({
    summary: "The refs of a task's repository, for git's fetch",
    description: `${FOR_AGENTS}The first request of git's smart HTTP protocol.`,
  })
  @ApiQuery({
    name: 'service',
    description: 'Must be `git-upload-pack`',
    example: 'git-upload-pack',
  })
  @ApiOkResponse({
    description: "git's ref advertisement",
    content: { 'application/x-git-upload-pack-advertisement': {} },
  })
  @ApiErrors({
    401: "No task token, or not this task's",
    403: 'A service other than git-upload-pack (a push)',
    404: 'The task is not the current task of a job',
    409: "The task's job has ended",
  })
  async refs(
    @Param('taskId') taskId: string,
    @Query('service') service: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (service !== 'git-upload-pack') {
      res.status(403).type('text/plain').send('only fetches (git-upload-pack) are served\n');
      return;
    }
    const { repositoryDir, namespace } = await this.source.namespaceOf(taskId);
    await serveUploadPack(repositoryDir, { namespace }, 'info/refs', req, res);
  }

  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Post('source.git/git-upload-pack')
  @ApiOperation({
    summary: "A pack of a task's commit, for git's fetch",
    description: `${FOR_AGENTS}The body is git's upload-pack request; the answer streams the pack.`,
  })
  @ApiOkResponse({
    description: "git's upload-pack result",
    content: { 'application/x-git-upload-pack-result': {} },
  })
  @ApiErrors({
    401: "No task token, or not this task's",
    404: 'The task is not the current task of a job',
    409: "The task's job has ended",
  })
  async uploadPack(
    @Param('taskId') taskId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { repositoryDir, namespace } = await this.source.namespaceOf(taskId);
    await serveUploadPack(repositoryDir, { namespace }, 'git-upload-pack', req, res);
  }

  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Get('source.pack')
  @ApiOperation({
    summary: "A task's commit as one git pack",
    description:
      'The commit and every object of its tree, none of its history (what `git fetch --depth 1` ' +
      "of it transfers), for `git index-pack`. The task's token as the password of Basic " +
      'credentials (or `Authorization: Bearer <token>`).',
  })
  @ApiOkResponse({ description: 'A git pack', content: { [PACK_MEDIA_TYPE]: {} } })
  @ApiErrors({
    401: "No task token, or not this task's",
    404: 'The task is not the current task of a job',
    409: "The task's job has ended",
  })
  async pack(@Param('taskId') taskId: string, @Res() res: Response): Promise<void> {
    const { repositoryDir, sha } = await this.source.commitOf(taskId);
    await this.packs.serve(repositoryDir, sha, res);
  }
}
