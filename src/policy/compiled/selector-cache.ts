/**
 * The selector cache: every distinct selector once, with the set of identities it selects kept as a
 * bitset, and each identity's ascending list of the selectors that select it (`Identity.slots`),
 * both updated when identities and selectors come and go. The engine copies an identity's list into
 * its pods' peer lists, where a lookup scans a handful of integers next to the program it walks.
 */
import { selectorKey, selects, type Selector } from '../selector.js';
import type { Identity, IdentityTable } from './identities.js';

export class CachedSelector {
  bits: Uint32Array;
  users = 0;
  constructor(
    readonly key: string,
    readonly selector: Selector,
    /** This selector's number in every identity's `slots` list (numbers are reused after release). */
    readonly slot: number,
    capacityWords: number,
    /** `key=value` labels one of which a selected identity must have, or undefined when none is required. */
    readonly anchors: readonly string[] | undefined,
  ) {
    this.bits = new Uint32Array(capacityWords);
  }

  has(id: number): boolean {
    return ((this.bits[id >>> 5] ?? 0) & (1 << (id & 31))) !== 0;
  }

  set(id: number): void {
    this.bits[id >>> 5]! |= 1 << (id & 31);
  }

  clear(id: number): void {
    this.bits[id >>> 5]! &= ~(1 << (id & 31));
  }

  *ids(): Generator<number> {
    for (let word = 0; word < this.bits.length; word++) {
      let value = this.bits[word]!;
      while (value !== 0) {
        const bit = 31 - Math.clz32(value & -value);
        yield word * 32 + bit;
        value &= value - 1;
      }
    }
  }
}

export class SelectorCache {
  private readonly byKey = new Map<string, CachedSelector>();
  /** Selectors by anchor label, to find the few a new identity can match. */
  private readonly byAnchor = new Map<string, Set<CachedSelector>>();
  private readonly unanchored = new Set<CachedSelector>();
  /** Identities by `key=value` label, to find the few identities a new selector can match. */
  private readonly identitiesByLabel = new Map<string, Set<Identity>>();
  /** For each identity, the selectors that currently select it. */
  private readonly selectorsOf = new Map<number, Set<CachedSelector>>();
  /** Identities whose `slots` changed since `takeChanged`. */
  private readonly changed = new Set<Identity>();
  private words = 4;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(private readonly identities: IdentityTable) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Interns a selector (shared by equal spellings) and counts one more user. */
  intern(selector: Selector): CachedSelector {
    const key = selectorKey(selector);
    let cached = this.byKey.get(key);
    if (!cached) {
      this.ensureCapacity(this.identities.capacity);
      const anchors = anchorsOf(selector);
      cached = new CachedSelector(key, selector, this.freeSlots.pop() ?? this.nextSlot++, this.words, anchors);
      this.byKey.set(key, cached);
      if (anchors) for (const anchor of anchors) this.addToIndex(this.byAnchor, anchor, cached);
      else this.unanchored.add(cached);
      for (const identity of this.candidates(anchors)) {
        if (selects(selector, identity.labels)) {
          cached.set(identity.id);
          insertSlot(identity.slots, cached.slot);
          this.changed.add(identity);
          this.selectorsOf.get(identity.id)?.add(cached);
        }
      }
    }
    cached.users++;
    return cached;
  }

  release(cached: CachedSelector): void {
    cached.users--;
    if (cached.users > 0) return;
    this.byKey.delete(cached.key);
    if (cached.anchors) for (const anchor of cached.anchors) this.byAnchor.get(anchor)?.delete(cached);
    else this.unanchored.delete(cached);
    for (const id of cached.ids()) {
      this.selectorsOf.get(id)?.delete(cached);
      const identity = this.identities.get(id);
      if (identity) {
        removeSlot(identity.slots, cached.slot);
        this.changed.add(identity);
      }
    }
    this.freeSlots.push(cached.slot);
  }

  /** The identities whose selector slots changed since the last call (selectors interned or released, identities added). */
  takeChanged(): Identity[] {
    const changed = [...this.changed];
    this.changed.clear();
    return changed;
  }

  /** The engine has stored this identity's current slots: it is no longer reported as changed (until it changes again). */
  settled(identity: Identity): void {
    this.changed.delete(identity);
  }

  /** A new identity: set its bit in every selector that selects it. Returns those selectors. */
  identityAdded(identity: Identity): Set<CachedSelector> {
    this.ensureCapacity(this.identities.capacity);
    for (const [key, value] of identity.labels) this.addToIndex(this.identitiesByLabel, `${key}=${value}`, identity);
    const matched = new Set<CachedSelector>();
    const consider = (cached: CachedSelector): void => {
      if (!matched.has(cached) && selects(cached.selector, identity.labels)) {
        cached.set(identity.id);
        insertSlot(identity.slots, cached.slot);
        matched.add(cached);
      }
    };
    for (const [key, value] of identity.labels) for (const cached of this.byAnchor.get(`${key}=${value}`) ?? []) consider(cached);
    for (const cached of this.unanchored) consider(cached);
    this.selectorsOf.set(identity.id, matched);
    this.changed.add(identity);
    return matched;
  }

  identityRemoved(identity: Identity): Set<CachedSelector> {
    for (const [key, value] of identity.labels) this.identitiesByLabel.get(`${key}=${value}`)?.delete(identity);
    const selectors = this.selectorsOf.get(identity.id) ?? new Set<CachedSelector>();
    for (const cached of selectors) cached.clear(identity.id);
    identity.slots.length = 0;
    this.selectorsOf.delete(identity.id);
    return selectors;
  }

  private candidates(anchors: readonly string[] | undefined): Iterable<Identity> {
    if (!anchors) return this.identities.all();
    const out = new Set<Identity>();
    for (const anchor of anchors) for (const identity of this.identitiesByLabel.get(anchor) ?? []) out.add(identity);
    return out;
  }

  private ensureCapacity(identityCapacity: number): void {
    const needed = Math.ceil((identityCapacity + 1) / 32);
    if (needed <= this.words) return;
    let words = this.words;
    while (words < needed) words *= 2;
    this.words = words;
    for (const cached of this.byKey.values()) {
      const grown = new Uint32Array(words);
      grown.set(cached.bits);
      cached.bits = grown;
    }
  }

  private addToIndex<T>(index: Map<string, Set<T>>, key: string, value: T): void {
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(value);
  }
}

/**
 * The `key=value` labels of the most selective `In` requirement (fewest values): every identity
 * the selector selects carries one of them. Undefined when the selector has no `In` requirement.
 */
function anchorsOf(selector: Selector): string[] | undefined {
  let best: string[] | undefined;
  for (const requirement of selector.requirements) {
    if (requirement.operator !== 'In') continue;
    if (!best || requirement.values.length < best.length) best = requirement.values.map((value) => `${requirement.key}=${value}`);
  }
  return best;
}

/** Keeps an identity's slots ascending (the lookup stops at the first larger one). */
function insertSlot(slots: number[], slot: number): void {
  let at = slots.length;
  while (at > 0 && slots[at - 1]! > slot) at--;
  if (slots[at - 1] !== slot) slots.splice(at, 0, slot);
}

function removeSlot(slots: number[], slot: number): void {
  const at = slots.indexOf(slot);
  if (at >= 0) slots.splice(at, 1);
}
