import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { Images } from './images';
import { startStalledRegistry } from './testing/stalled-registry';

describe(Images.name, () => {
  it('gives up a pull that makes no progress, naming the image', async () => {
    const registry = await startStalledRegistry();
    try {
      const images = new Images(new Docker(), {}, { progressDeadlineMs: 1_000 });
      await expect(images.ensure(registry.image)).rejects.toThrow(
        `image ${registry.image} could not be pulled: no progress for 1 s`,
      );
    } finally {
      await registry.close();
    }
  });

  it("gives up one task's wait for a pull when told to, the pull going on for the others", async () => {
    const registry = await startStalledRegistry();
    try {
      const images = new Images(new Docker(), {}, { progressDeadlineMs: 2_000 });
      const stopped = new AbortController();
      const killed = images.ensure(registry.image, stopped.signal);
      const other = images.ensure(registry.image);
      await registry.asked;
      stopped.abort();
      await expect(killed).rejects.toThrow(`the wait for image ${registry.image} was given up`);
      // The other task's wait ends with the pull itself.
      await expect(other).rejects.toThrow('no progress for 2 s');
    } finally {
      await registry.close();
    }
  });
});
