/** A small seeded generator (mulberry32): the same seed gives the same scenario on every machine. */
export class Prng {
    seed;
    state;
    constructor(seed) {
        this.seed = seed;
        this.state = seed >>> 0;
    }
    next() {
        this.state = (this.state + 0x6d2b79f5) >>> 0;
        let t = this.state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    int(min, max) {
        return min + Math.floor(this.next() * (max - min + 1));
    }
    chance(probability) {
        return this.next() < probability;
    }
    pick(items) {
        return items[Math.floor(this.next() * items.length)];
    }
    some(items, max) {
        const count = this.int(0, Math.min(max, items.length));
        const pool = [...items];
        const out = [];
        for (let index = 0; index < count; index++)
            out.push(pool.splice(this.int(0, pool.length - 1), 1)[0]);
        return out;
    }
}
//# sourceMappingURL=prng.js.map