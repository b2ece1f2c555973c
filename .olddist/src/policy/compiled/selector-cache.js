/**
 * The selector cache: every distinct selector once, with the set of identities it selects kept as a
 * bitset and updated when identities come and go, so a lookup is one bit test.
 */
import { selectorKey, selects } from '../selector.js';
export class CachedSelector {
    key;
    selector;
    anchors;
    bits;
    users = 0;
    constructor(key, selector, capacityWords, 
    /** `key=value` labels one of which a selected identity must have, or undefined when none is required. */
    anchors) {
        this.key = key;
        this.selector = selector;
        this.anchors = anchors;
        this.bits = new Uint32Array(capacityWords);
    }
    has(id) {
        return ((this.bits[id >>> 5] ?? 0) & (1 << (id & 31))) !== 0;
    }
    set(id) {
        this.bits[id >>> 5] |= 1 << (id & 31);
    }
    clear(id) {
        this.bits[id >>> 5] &= ~(1 << (id & 31));
    }
    *ids() {
        for (let word = 0; word < this.bits.length; word++) {
            let value = this.bits[word];
            while (value !== 0) {
                const bit = 31 - Math.clz32(value & -value);
                yield word * 32 + bit;
                value &= value - 1;
            }
        }
    }
}
export class SelectorCache {
    identities;
    byKey = new Map();
    /** Selectors by anchor label, to find the few a new identity can match. */
    byAnchor = new Map();
    unanchored = new Set();
    /** Identities by `key=value` label, to find the few identities a new selector can match. */
    identitiesByLabel = new Map();
    /** For each identity, the selectors that currently select it. */
    selectorsOf = new Map();
    words = 4;
    constructor(identities) {
        this.identities = identities;
    }
    get size() {
        return this.byKey.size;
    }
    /** Interns a selector (shared by equal spellings) and counts one more user. */
    intern(selector) {
        const key = selectorKey(selector);
        let cached = this.byKey.get(key);
        if (!cached) {
            this.ensureCapacity(this.identities.capacity);
            const anchors = anchorsOf(selector);
            cached = new CachedSelector(key, selector, this.words, anchors);
            this.byKey.set(key, cached);
            if (anchors)
                for (const anchor of anchors)
                    this.addToIndex(this.byAnchor, anchor, cached);
            else
                this.unanchored.add(cached);
            for (const identity of this.candidates(anchors)) {
                if (selects(selector, identity.labels)) {
                    cached.set(identity.id);
                    this.selectorsOf.get(identity.id)?.add(cached);
                }
            }
        }
        cached.users++;
        return cached;
    }
    release(cached) {
        cached.users--;
        if (cached.users > 0)
            return;
        this.byKey.delete(cached.key);
        if (cached.anchors)
            for (const anchor of cached.anchors)
                this.byAnchor.get(anchor)?.delete(cached);
        else
            this.unanchored.delete(cached);
        for (const id of cached.ids())
            this.selectorsOf.get(id)?.delete(cached);
    }
    /** A new identity: set its bit in every selector that selects it. Returns those selectors. */
    identityAdded(identity) {
        this.ensureCapacity(this.identities.capacity);
        for (const [key, value] of identity.labels)
            this.addToIndex(this.identitiesByLabel, `${key}=${value}`, identity);
        const matched = new Set();
        const consider = (cached) => {
            if (!matched.has(cached) && selects(cached.selector, identity.labels)) {
                cached.set(identity.id);
                matched.add(cached);
            }
        };
        for (const [key, value] of identity.labels)
            for (const cached of this.byAnchor.get(`${key}=${value}`) ?? [])
                consider(cached);
        for (const cached of this.unanchored)
            consider(cached);
        this.selectorsOf.set(identity.id, matched);
        return matched;
    }
    identityRemoved(identity) {
        for (const [key, value] of identity.labels)
            this.identitiesByLabel.get(`${key}=${value}`)?.delete(identity);
        const selectors = this.selectorsOf.get(identity.id) ?? new Set();
        for (const cached of selectors)
            cached.clear(identity.id);
        this.selectorsOf.delete(identity.id);
        return selectors;
    }
    candidates(anchors) {
        if (!anchors)
            return this.identities.all();
        const out = new Set();
        for (const anchor of anchors)
            for (const identity of this.identitiesByLabel.get(anchor) ?? [])
                out.add(identity);
        return out;
    }
    ensureCapacity(identityCapacity) {
        const needed = Math.ceil((identityCapacity + 1) / 32);
        if (needed <= this.words)
            return;
        let words = this.words;
        while (words < needed)
            words *= 2;
        this.words = words;
        for (const cached of this.byKey.values()) {
            const grown = new Uint32Array(words);
            grown.set(cached.bits);
            cached.bits = grown;
        }
    }
    addToIndex(index, key, value) {
        let set = index.get(key);
        if (!set)
            index.set(key, (set = new Set()));
        set.add(value);
    }
}
/**
 * The `key=value` labels of the most selective `In` requirement (fewest values): every identity
 * the selector selects carries one of them. Undefined when the selector has no `In` requirement.
 */
function anchorsOf(selector) {
    let best;
    for (const requirement of selector.requirements) {
        if (requirement.operator !== 'In')
            continue;
        if (!best || requirement.values.length < best.length)
            best = requirement.values.map((value) => `${requirement.key}=${value}`);
    }
    return best;
}
//# sourceMappingURL=selector-cache.js.map