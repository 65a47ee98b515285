import type { ContainerSpec } from '../containerizer';
import { DockerContainerizer } from './docker.containerizer';

/**
 * An agent that dies under its task, for recovery tests: run as
 * `node --import tsx dying-docker-agent.ts OWNER SPEC_JSON`, it launches the spec with a docker
 * containerizer, prints the launch result and the checkpoint as one JSON line, and exits without
 * destroying anything, so the container runs on with nobody following its output or end.
 */
async function main(): Promise<void> {
  const [owner, specJson] = process.argv.slice(2);
  if (owner === undefined || specJson === undefined) {
    throw new Error('usage: dying-docker-agent.ts OWNER SPEC_JSON');
  }
  const spec = JSON.parse(specJson) as ContainerSpec;
  const containerizer = new DockerContainerizer({ owner });
  const result = await containerizer.launch(spec);
  const checkpoint = containerizer.checkpoint(spec.containerId);
  process.stdout.write(`${JSON.stringify({ result, checkpoint })}\n`, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
