/**
 * Deterministic randomness for the data generator. Everything is derived
 * from the seed by hashing, so any table can recompute any row's id (say,
 * lead 42 of tenant 7) without remembering it, and two runs with the same
 * seed produce the same bytes.
 */

/** A 32-bit integer hash of a list of integers (murmur3 finaliser per step). */
export function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    let k = Math.imul((v | 0) ^ Math.floor(v / 0x100000000), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= values.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A small, fast PRNG (sfc32) seeded from a list of integers. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...seed: number[]) {
    this.a = hash32(1, ...seed);
    this.b = hash32(2, ...seed);
    this.c = hash32(3, ...seed);
    this.d = hash32(4, ...seed);
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Picks a key of a table of weights, e.g. { active: 85, bounced: 3 }. */
  weighted<K extends string>(table: Readonly<Record<K, number>>): K {
    const entries = Object.entries(table) as Array<[K, number]>;
    const total = entries.reduce((n, [, w]) => n + w, 0);
    let x = this.float() * total;
    for (const [key, w] of entries) {
      x -= w;
      if (x < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }

  /** Exponentially distributed with the given mean (e.g. a delay). */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function formatUuid(w0: number, w1: number, w2: number, w3: number): string {
  const b = (w: number, shift: number) => HEX[(w >>> shift) & 0xff]!;
  return (
    b(w0, 24) + b(w0, 16) + b(w0, 8) + b(w0, 0) + '-' +
    b(w1, 24) + b(w1, 16) + '-' + b(w1, 8) + b(w1, 0) + '-' +
    b(w2, 24) + b(w2, 16) + '-' + b(w2, 8) + b(w2, 0) +
    b(w3, 24) + b(w3, 16) + b(w3, 8) + b(w3, 0)
  );
}

/** A version 4 (random-looking) UUID that is a pure function of its inputs. */
export function uuidFor(...key: number[]): string {
  const w0 = hash32(11, ...key);
  const w1 = (hash32(12, ...key) & 0xffff0fff) | 0x00004000; // version 4
  const w2 = (hash32(13, ...key) & 0x3fffffff) | 0x80000000; // variant 10
  const w3 = hash32(14, ...key);
  return formatUuid(w0, w1, w2, w3);
}

/**
 * A version 7 UUID for the given time, laid out like app_public.uuid_v7():
 * 48-bit big-endian milliseconds since the epoch, version 7, variant 10,
 * the rest a pure function of `key`.
 */
export function uuidV7For(ms: number, ...key: number[]): string {
  const t = Math.floor(ms);
  if (t < 0 || t >= 2 ** 48) throw new RangeError(`uuidV7For: ${ms} is outside the 48-bit millisecond range`);
  const hi = Math.floor(t / 0x10000); // first 32 bits of the timestamp
  const lo = t % 0x10000; // last 16 bits
  const w1 = ((lo << 16) | 0x7000 | (hash32(21, ...key) & 0x0fff)) >>> 0;
  const w2 = ((hash32(22, ...key) & 0x3fffffff) | 0x80000000) >>> 0;
  const w3 = hash32(23, ...key);
  return formatUuid(hi >>> 0, w1, w2, w3);
}

/** The time encoded in a version 7 UUID, in milliseconds. */
export function uuidV7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * Zipf-like weights for n items: item i (0-based) weighs 1 / (i + 1)^s.
 * Returns integer sizes that add up to `total` (largest remainders), each at
 * least `min`.
 */
export function zipfSizes(n: number, total: number, s: number, min = 0): number[] {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const sum = weights.reduce((a, w) => a + w, 0);
  const spare = Math.max(0, total - min * n);
  const raw = weights.map((w) => (w / sum) * spare);
  const sizes = raw.map((x) => min + Math.floor(x));
  let left = total - sizes.reduce((a, x) => a + x, 0);
  const order = raw.map((x, i) => [x - Math.floor(x), i] as const).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
  for (let k = 0; left > 0 && n > 0; k = (k + 1) % n, left--) {
    const i = order[k]![1];
    sizes[i] = sizes[i]! + 1;
  }
  return sizes;
}
