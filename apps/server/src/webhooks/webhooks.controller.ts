import { FORGES } from '@kiln/persistence';
import { applyDecorators, Controller, Headers, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { WebhookResponse } from './webhooks.dto';
import { WebhooksService } from './webhooks.service';

type RawRequest = Request & { rawBody?: Buffer };

/** One description for both routes: they differ only in how the repository is named. */
const Webhook = (): MethodDecorator =>
  applyDecorators(
    ApiOperation({
      summary: "A forge's webhook",
      description:
        "Authenticated by the forge's signature over the raw body with the repository's webhook " +
        'secret (GitHub `X-Hub-Signature-256`, GitLab `X-Gitlab-Token`, Gitea/Forgejo ' +
        '`X-Gitea-Signature`/`X-Forgejo-Signature`, Bitbucket `X-Hub-Signature`), not an API token.',
    }),
    ApiParam({ name: 'forge', enum: [...FORGES], enumName: 'Forge' }),
    ApiBody({
      description: 'The event as the forge sends it',
      schema: { type: 'object', additionalProperties: true },
    }),
    ApiAcceptedResponse({ type: WebhookResponse, description: 'A run was created, or why not' }),
    ApiOkResponse({
      type: WebhookResponse,
      description: 'A ping (an organization ping too), or a redelivery (nothing new)',
    }),
    ApiErrors({
      400: 'No body, a body that is not a JSON object (or nests deeper than 64 levels), a missing event or delivery header, a delivery id over 200 characters',
      401: 'The signature is missing or does not match, whatever the event',
      404: 'Unknown forge, or no such repository is registered',
      413: 'The body is over 25 MB',
      415: 'The body is not application/json (nor GitHub’s form-encoded JSON)',
      422: 'An event Kiln acts on that names no repository, a ref git could not store, a commit id that is none, or a pull request number that is no positive integer',
    }),
  );

/**
 * `POST /hooks/<forge>`: the forge's webhook, authenticated by its signature (not an API token).
 * `POST /hooks/<forge>/<repository id>` does the same for a repository named by Kiln's id.
 */
@ApiTags('webhooks')
@Allow.public()
@Controller('hooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post(':forge')
  @Webhook()
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
  @Webhook()
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
