/**
 * Security identities: pods with equal identity labels share one numeric identity, as in Cilium.
 * Ids are reused after release, so bitsets over identities stay small.
 */
import { labelsKey } from '../identity-labels.js';
import type { Labels } from '../selector.js';
import { EMPTY_MAP, type DirectionMap } from './policy-map.js';

export interface Identity {
  readonly id: number;
  readonly key: string;
  readonly labels: Labels;
  /** Pods currently holding this identity. */
  members: number;
  /**
   * The slots of the cached selectors that select this identity, ascending, kept by the selector
   * cache (which reports changes); the engine copies them into each pod's peer lists in its arena.
   */
  readonly slots: number[];
  /** The identity's compiled policy map, one per direction (its pods' state holds copies of what a lookup reads). */
  egress: DirectionMap;
  ingress: DirectionMap;
}

export class IdentityTable {
  private readonly byKey = new Map<string, Identity>();
  private readonly byId: (Identity | undefined)[] = [];
  private readonly free: number[] = [];

  get capacity(): number {
    return this.byId.length;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(id: number): Identity | undefined {
    return this.byId[id];
  }

  all(): IterableIterator<Identity> {
    return this.byKey.values();
  }

  /** Returns the identity for these labels and whether it was created by this call. */
  acquire(labels: Labels): { identity: Identity; created: boolean } {
    const key = labelsKey(labels);
    const existing = this.byKey.get(key);
    if (existing) {
      existing.members++;
      return { identity: existing, created: false };
    }
    const id = this.free.pop() ?? this.byId.length;
    const identity: Identity = { id, key, labels, members: 1, slots: [], egress: EMPTY_MAP.egress, ingress: EMPTY_MAP.ingress };
    this.byKey.set(key, identity);
    this.byId[id] = identity;
    return { identity, created: true };
  }

  /** Drops one member; returns true when the identity is gone. */
  release(identity: Identity): boolean {
    identity.members--;
    if (identity.members > 0) return false;
    this.byKey.delete(identity.key);
    this.byId[identity.id] = undefined;
    this.free.push(identity.id);
    return true;
  }
}
