import { resources } from '@kiln/contracts';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { checkpointOf, LABELS, NETWORK_ROLE, TASK_ROLE } from './checkpoint';
import { holderOptions, taskContainerOptions } from './create-options';

const spec = {
  containerId: 'task-1',
  command: { shell: true as const, value: 'make' },
  environment: {},
  sandbox: '/sandbox',
  resources: resources({ cpus: 1, mem: 64 }),
  image: 'busybox',
};
const agent = { owner: 'agent-1', pidsLimit: 128 };

describe('the engine configuration of a Docker task', () => {
  // The engine gives a container its image's labels, under those set at its creation.
  it('sets every label the agent reads back, so that none comes from the image', () => {
    const options = taskContainerOptions(
      spec,
      '/sandbox/workspace',
      { stdoutOffset: 0, stderrOffset: 0 },
      'none',
      agent,
    );
    expect(Object.keys(options.Labels ?? {}).sort()).toEqual(Object.values(LABELS).sort());
    expect(options.Labels?.[LABELS.role]).toBe(TASK_ROLE);
    expect(options.Labels?.[LABELS.deadline]).toBe('');
  });

  it('reads no deadline back from the label of a task without a timeout', () => {
    const info = {
      Id: 'a'.repeat(64),
      Labels: { [LABELS.maxCompletionTimeMs]: '', [LABELS.deadline]: '', [LABELS.role]: TASK_ROLE },
    } as unknown as Docker.ContainerInfo;
    expect(checkpointOf(info, undefined)).toEqual({
      dockerId: 'a'.repeat(64),
      stdoutOffset: 0,
      stderrOffset: 0,
    });
  });

  it("gives the network holder, which runs the task's image, a tenth of a CPU", () => {
    const options = holderOptions(spec, agent.owner);
    expect(options.Labels?.[LABELS.role]).toBe(NETWORK_ROLE);
    expect(options.HostConfig?.NanoCpus).toBe(100_000_000);
  });
});
