/**
 * Security identities: pods with equal identity labels share one numeric identity, as in Cilium.
 * Ids are reused after release, so bitsets over identities stay small.
 */
import { labelsKey } from '../identity-labels.js';
export class IdentityTable {
    byKey = new Map();
    byId = [];
    free = [];
    get capacity() {
        return this.byId.length;
    }
    get size() {
        return this.byKey.size;
    }
    get(id) {
        return this.byId[id];
    }
    all() {
        return this.byKey.values();
    }
    /** Returns the identity for these labels and whether it was created by this call. */
    acquire(labels) {
        const key = labelsKey(labels);
        const existing = this.byKey.get(key);
        if (existing) {
            existing.members++;
            return { identity: existing, created: false };
        }
        const id = this.free.pop() ?? this.byId.length;
        const identity = { id, key, labels, members: 1 };
        this.byKey.set(key, identity);
        this.byId[id] = identity;
        return { identity, created: true };
    }
    /** Drops one member; returns true when the identity is gone. */
    release(identity) {
        identity.members--;
        if (identity.members > 0)
            return false;
        this.byKey.delete(identity.key);
        this.byId[identity.id] = undefined;
        this.free.push(identity.id);
        return true;
    }
}
//# sourceMappingURL=identities.js.map