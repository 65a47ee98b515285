import { AgentCall, SchedulerCall } from '@kiln/contracts';
import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { parseBody } from './message-body.decorator';

function refusal(call: () => unknown): { status: number; body: unknown } {
  try {
    call();
  } catch (error) {
    if (error instanceof BadRequestException) {
      return { status: error.getStatus(), body: error.getResponse() };
    }
    throw error;
  }
  throw new Error('the call was not refused');
}

describe(parseBody.name, () => {
  it('hands a valid call on as it came', () => {
    const body = { type: 'HEARTBEAT', agentId: 'agent-1' };
    expect(parseBody(AgentCall, body)).toBe(body);
  });

  it('answers an invalid call with 400 listing every problem by its path', () => {
    const answer = refusal(() =>
      parseBody(SchedulerCall, {
        type: 'ACCEPT',
        frameworkId: 'fw-1',
        accept: { offerIds: 'o-1', operations: [] },
        extra: true,
      }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'Bad Request' });
    expect((answer.body as { message: string[] }).message).toEqual(
      expect.arrayContaining([
        'accept.offerIds must be an array',
        'extra: property extra should not exist',
      ]),
    );
  });

  it('answers a body that is not a JSON object with 400', () => {
    expect(refusal(() => parseBody(SchedulerCall, undefined)).body).toMatchObject({
      message: ['expected a JSON object'],
    });
    const unknownType = refusal(() => parseBody(SchedulerCall, { type: 'LAUNCH_EVERYTHING' }));
    expect((unknownType.body as { message: string[] }).message).toContainEqual(
      expect.stringMatching(/^type must be one of the following values: SUBSCRIBE, ACCEPT/),
    );
  });
});
