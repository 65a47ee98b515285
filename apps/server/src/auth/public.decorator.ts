import { SetMetadata } from '@nestjs/common';

export const PUBLIC = 'kiln:public';

/**
 * Marks a route that needs no API token because it authenticates otherwise (webhooks by their
 * signature, agents' log chunks by their task token) or exposes nothing (probes).
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);
