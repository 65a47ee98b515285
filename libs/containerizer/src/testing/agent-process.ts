import type { ContainerSpec } from '../containerizer';
import { ProcessContainerizer } from '../process/process.containerizer';

/**
 * An agent that dies under its task, for recovery tests: run as
 * `node --import tsx agent-process.ts RUNTIME_DIR SPEC_JSON`, it launches the spec with a process
 * containerizer, prints the launch result and the checkpoint as one JSON line, and exits without
 * destroying anything, so the task lives on with no parent but init.
 */
async function main(): Promise<void> {
  const [runtimeDir, specJson] = process.argv.slice(2);
  if (runtimeDir === undefined || specJson === undefined) {
    throw new Error('usage: agent-process.ts RUNTIME_DIR SPEC_JSON');
  }
  const spec = JSON.parse(specJson) as ContainerSpec;
  const containerizer = new ProcessContainerizer({ runtimeDir });
  const result = await containerizer.launch(spec);
  const checkpoint = containerizer.checkpoint(spec.containerId);
  process.stdout.write(`${JSON.stringify({ result, checkpoint })}\n`, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
