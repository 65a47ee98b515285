import Docker from 'dockerode';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Images } from './images';

describe(Images.name, () => {
  // A registry a build names answers the engine's first check, then never sends the manifest:
  // the engine waits on it for good, and the task's launch with it.
  it('gives up a pull that makes no progress, naming the image', async () => {
    const registry = createServer((request, response) => {
      if (request.url === '/v2/') {
        response
          .writeHead(200, {
            'content-type': 'application/json',
            'docker-distribution-api-version': 'registry/2.0',
          })
          .end('{}');
      }
      // Anything else: never answered.
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    const image = `127.0.0.1:${(registry.address() as AddressInfo).port}/kiln-test/stalled:latest`;
    try {
      const images = new Images(new Docker(), {}, { progressDeadlineMs: 1_000 });
      await expect(images.ensure(image)).rejects.toThrow(
        `image ${image} could not be pulled: no progress for 1 s`,
      );
    } finally {
      registry.closeAllConnections();
      await new Promise((resolve) => registry.close(resolve));
    }
  });
});
