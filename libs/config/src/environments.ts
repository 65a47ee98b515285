import { AgentEnv, MasterEnv } from './cluster.env';
import { ServerEnv } from './server.env';

/** Every app's configuration class, by app: the README documents each variable they read. */
export const ENVIRONMENTS = { server: ServerEnv, master: MasterEnv, agent: AgentEnv } as const;
