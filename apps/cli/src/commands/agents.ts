import type { Command } from 'commander';
import { agentUsage, type AgentResources } from '../api-types';
import { CommandContext, type CliIo } from '../context';
import { ApiError, NotFoundError } from '../errors';
import { table } from '../output';

export function registerAgents(program: Command, io: CliIo): void {
  program
    .command('agents')
    .description("list the cluster's agents and what they use")
    .action(async (_options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const client = ctx.client();
      const list = await client.listAgents().catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) {
          throw new NotFoundError(
            `${client.server} has no cluster view (GET /api/v1/agents answered 404); until it ` +
              "has one, the master's operator API lists the agents: GET <master>/api/v1/state " +
              'with the cluster token',
          );
        }
        throw error;
      });
      if (ctx.json) return ctx.printJson(list);
      if (list.agents.length === 0) return ctx.note('no agents are registered');
      const share = (key: keyof AgentResources, usage: ReturnType<typeof agentUsage>) =>
        `${round(usage.used[key])}/${round(usage.total[key])}`;
      ctx.out(
        table(
          ['ID', 'HOSTNAME', 'STATE', 'CONTAINERIZERS', 'CPUS', 'MEM (MB)'],
          list.agents.map((a) => {
            const usage = agentUsage(a);
            return [
              a.id,
              a.hostname,
              a.state,
              a.containerizers.join(','),
              share('cpus', usage),
              share('mem', usage),
            ];
          }),
        ),
      );
    });
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
