import { STREAM_ID_HEADER, type Offer } from '@kiln/contracts';
import { SchedulerCallError } from '@kiln/scheduler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-api-token-0123456789abcdef';

/** What a refused call must leave as it was: offers, tasks, agents (ages aside). */
interface StateView {
  offers: { id: string }[];
  tasks: { taskId: string; state: string }[];
  agents: { id: string; state: string; resources: object }[];
}

describe('scheduler API refuses bad calls and changes nothing', () => {
  beforeEach(printProcessesOnFailure);
  let master: KilnProcess;
  let agent: KilnProcess;
  let url: string;
  let framework: TestFramework;
  let offer: Offer;

  async function state(): Promise<StateView> {
    const res = await fetch(`${url}/api/v1/state`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as StateView;
    return {
      offers: body.offers.map(({ id }) => ({ id })),
      tasks: body.tasks.map(({ taskId, state }) => ({ taskId, state })),
      agents: body.agents.map(({ id, state, resources }) => ({ id, state, resources })),
    };
  }

  async function raw(
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; message: string }> {
    const res = await fetch(`${url}/api/v1/scheduler`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        [STREAM_ID_HEADER]: framework.client.streamId ?? '',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const message = text === '' ? '' : (JSON.parse(text) as { message: string }).message;
    return { status: res.status, message };
  }

  /** Runs a bad call and proves it was refused with `status` and left the cluster unchanged. */
  async function refused(
    call: () => Promise<{ status: number; message: string }>,
    status: number,
    message: RegExp,
  ): Promise<void> {
    const before = await state();
    const answer = await call();
    expect(answer.status).toBe(status);
    expect(answer.message).toMatch(message);
    expect(await state()).toEqual(before);
  }

  beforeAll(async () => {
    master = KilnProcess.start('master', {
      KILN_CLUSTER_TOKEN: TOKEN,
      // Offers stay outstanding for the whole test: nothing times out under it.
      KILN_MASTER_OFFER_TIMEOUT_MS: '600000',
    });
    url = await master.url();
    agent = KilnProcess.start('agent', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: url,
      KILN_AGENT_RESOURCES: 'cpus:2;mem:1024;disk:100',
    });
    await agent.url();
    framework = await TestFramework.start(
      url,
      TOKEN,
      { name: 'api', roles: ['ci'] },
      { holdOffers: true },
    );
    // Hold on to the first offer instead of letting the test framework decline it.
    offer = await framework.waitFor(() => {
      const event = framework.events.find((e) => e.type === 'OFFERS');
      return event?.type === 'OFFERS' ? event.offers.offers[0] : undefined;
    });
  });

  afterAll(async () => {
    await framework.close();
    await Promise.all([agent.dispose(), master.dispose()]);
  });

  const acceptBody = (offerIds: string[], cpus = 0.5): object => ({
    type: 'ACCEPT',
    frameworkId: framework.id,
    accept: {
      offerIds,
      operations: [
        {
          type: 'LAUNCH',
          launch: {
            taskInfos: [
              { ...shellTask('t1', 'true'), resources: { cpus, mem: 32, disk: 0, ports: [] } },
            ],
          },
        },
      ],
    },
  });

  it('refuses a call without the cluster token (401)', async () => {
    await refused(
      () => raw(acceptBody([offer.id]), { authorization: '' }),
      401,
      /token is required/,
    );
  });

  it('refuses a call with a wrong cluster token (401)', async () => {
    await refused(
      () => raw(acceptBody([offer.id]), { authorization: 'Bearer not-the-token' }),
      401,
      /token is wrong/,
    );
  });

  it('refuses a malformed JSON body (400)', async () => {
    await refused(() => raw('{"type": "ACCEPT", '), 400, /JSON/);
  });

  it('refuses a call that fails validation, naming the field (400)', async () => {
    await refused(
      () => raw({ type: 'ACCEPT', frameworkId: framework.id, accept: { offerIds: 'x' } }),
      400,
      /offerIds/,
    );
    await refused(() => raw({ type: 'LAUNCH_EVERYTHING' }), 400, /type must be one of/);
  });

  it('refuses a call without the stream id (400) or with a wrong one (403)', async () => {
    await refused(() => raw(acceptBody([offer.id]), { [STREAM_ID_HEADER]: '' }), 400, /Stream-Id/);
    await refused(
      () => raw(acceptBody([offer.id]), { [STREAM_ID_HEADER]: 'not-my-stream' }),
      403,
      /not framework .* current subscription/,
    );
  });

  it('refuses an unknown offer id (400)', async () => {
    await refused(
      () => raw(acceptBody(['no-such-offer'])),
      400,
      /offer no-such-offer is not an outstanding offer/,
    );
  });

  it('refuses tasks that need more than the offer holds (400)', async () => {
    await refused(() => raw(acceptBody([offer.id], 64)), 400, /needs 64.* cpus, has 2/);
  });

  it('accepts the same offer once, then refuses it as used (400)', async () => {
    const used = await raw(acceptBody([offer.id]));
    expect(used.status).toBe(202);
    await framework.waitForState('t1', 'TASK_FINISHED');
    // Once the task is over and acknowledged, nothing moves: a refused call must change nothing.
    await framework.waitFor(async () => ((await state()).tasks.length === 0 ? true : undefined));
    await refused(() => raw(acceptBody([offer.id])), 400, /not an outstanding offer/);
  });

  it('counts offers, tasks and agents in Prometheus metrics, without a token', async () => {
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^kiln_master_offers_made_total [1-9]/m);
    expect(text).toMatch(/^kiln_master_offers_accepted_total [1-9]/m);
    expect(text).toMatch(/^kiln_master_agents\{state="ACTIVE"\} 1$/m);
    expect(text).toMatch(/^kiln_master_tasks\{state="TASK_FINISHED"\} 1$/m);
    expect(text).toMatch(/^kiln_master_allocation_cycle_seconds_count [1-9]/m);
  });

  it('shows roles with their weights and shares in the state', async () => {
    const res = await fetch(`${url}/api/v1/state`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as { roles: { role: string; weight: number; share: number }[] };
    expect(body.roles).toEqual(
      expect.arrayContaining([expect.objectContaining({ role: 'ci', weight: 1 })]),
    );
  });

  it('reports the refusal to a client as a typed error', async () => {
    const error = await framework.client.decline(['gone']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchedulerCallError);
    expect((error as SchedulerCallError).status).toBe(400);
  });
});
