import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A registry that answers the engine's first check, then never sends a manifest. */
export interface StalledRegistry {
  /** An image of it, by its full name. */
  image: string;
  /** Resolves once the engine has asked for something past the first check (the manifest). */
  asked: Promise<void>;
  close(): Promise<void>;
}

/**
 * A registry a build could name that stops answering: the engine waits on it for good, and a
 * launch pulling from it with the engine.
 */
export async function startStalledRegistry(): Promise<StalledRegistry> {
  let tellAsked!: () => void;
  const asked = new Promise<void>((resolve) => (tellAsked = resolve));
  const registry = createServer((request, response) => {
    if (request.url === '/v2/') {
      response
        .writeHead(200, {
          'content-type': 'application/json',
          'docker-distribution-api-version': 'registry/2.0',
        })
        .end('{}');
      return;
    }
    // Anything else: never answered.
    tellAsked();
  });
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  const { port } = registry.address() as AddressInfo;
  return {
    image: `127.0.0.1:${port}/kiln-test/stalled:latest`,
    asked,
    close: async () => {
      registry.closeAllConnections();
      await new Promise((resolve) => registry.close(resolve));
    },
  };
}
