import type { JsonObject } from '../json';
import type { Forge, IgnoredEvent, TriggerEvent } from '../types';

/** What every forge normalizer gets: the event name and delivery id are already checked present. */
export interface DeliveryContext {
  forge: Forge;
  deliveryId: string;
  event: string;
  body: JsonObject;
}

export type Normalizer = (delivery: DeliveryContext) => TriggerEvent;

export function ignored(delivery: DeliveryContext, reason: string): IgnoredEvent {
  return { kind: 'ignored', forge: delivery.forge, deliveryId: delivery.deliveryId, reason };
}
