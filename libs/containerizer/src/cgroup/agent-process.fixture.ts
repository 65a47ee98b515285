import type { ContainerSpec } from '../containerizer';
import { CgroupContainerizer } from './cgroup.containerizer';

/**
 * An agent that dies under its task, for the recovery tests: run as
 * `node --import tsx agent-process.fixture.ts OPTIONS_JSON SPEC_JSON`, it launches the spec with a
 * cgroup containerizer, prints the launch result and the checkpoint as one JSON line, and exits
 * without destroying anything, so the task lives on with no parent but init.
 */
async function main(): Promise<void> {
  const [optionsJson, specJson] = process.argv.slice(2);
  if (optionsJson === undefined || specJson === undefined) {
    throw new Error('usage: agent-process.fixture.ts OPTIONS_JSON SPEC_JSON');
  }
  const spec = JSON.parse(specJson) as ContainerSpec;
  const containerizer = new CgroupContainerizer(
    JSON.parse(optionsJson) as ConstructorParameters<typeof CgroupContainerizer>[0],
  );
  const result = await containerizer.launch(spec);
  const checkpoint = containerizer.checkpoint(spec.containerId);
  process.stdout.write(`${JSON.stringify({ result, checkpoint })}\n`, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
