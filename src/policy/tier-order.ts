/** The order in which tier policies are consulted: priority, then (for equal priorities) name. */
import type { TieredPolicy } from './model.js';

export function tierOrder(a: TieredPolicy, b: TieredPolicy): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.ref.name !== b.ref.name) return a.ref.name < b.ref.name ? -1 : 1;
  return a.ref.kind < b.ref.kind ? -1 : a.ref.kind > b.ref.kind ? 1 : 0;
}
