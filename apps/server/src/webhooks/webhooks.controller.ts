import { Controller, Headers, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Allow } from '../auth/access';
import { WebhooksService } from './webhooks.service';

type RawRequest = Request & { rawBody?: Buffer };

/**
 * `POST /hooks/<forge>`: the forge's webhook, authenticated by its signature (not an API token).
 * `POST /hooks/<forge>/<repository id>` does the same for a repository named by Kiln's id.
 */
@Allow.public()
@Controller('hooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post(':forge')
  async receive(
    @Param('forge') forge: string,
    @Headers() headers: Record<string, string>,
    @Req() req: RawRequest,
    @Res() res: Response,
  ): Promise<void> {
    const outcome = await this.webhooks.receive(forge, headers, req.rawBody);
    res.status(outcome.status).json(outcome.body);
  }

  @Post(':forge/:repositoryId')
  async receiveFor(
    @Param('forge') forge: string,
    @Param('repositoryId') repositoryId: string,
    @Headers() headers: Record<string, string>,
    @Req() req: RawRequest,
    @Res() res: Response,
  ): Promise<void> {
    const outcome = await this.webhooks.receive(forge, headers, req.rawBody, repositoryId);
    res.status(outcome.status).json(outcome.body);
  }
}
