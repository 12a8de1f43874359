import { describe, expect, test } from "bun:test";
import { BatchLoader, evalBatches, normalisationLut } from "../../src/data/index.ts";
import type { Split } from "../../src/data/index.ts";
import { Rng } from "../../src/util/rng.ts";

const C = 2,
  H = 6,
  W = 6,
  N = 40;
/** Every pixel of every image is distinct and non-zero, so zero can only mean padding. */
const raw = (n: number, c: number, y: number, x: number) => 1 + ((n * 71 + c * 36 + y * 6 + x) % 254);
function makeSplit(): Split {
  const images = new Uint8Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) images[((n * C + c) * H + y) * W + x] = raw(n, c, y, x);
  return { images, labels: Uint8Array.from({ length: N }, (_, i) => i % 10), count: N };
}
const split = makeSplit();
// Identity normalisation (mean 0, std 1) lets tests read raw pixels back as round(x*255).
const ID = { mean: [0, 0], std: [1, 1] };
const toRaw = (x: Float32Array, k: number) => Array.from(x.subarray(k * C * H * W, (k + 1) * C * H * W), (v) => Math.round(v * 255));

/** torchvision reference: zero-pad by p, crop HxW at (top, left), then optionally mirror. */
function reference(n: number, p: number, top: number, left: number, mirror: boolean): number[] {
  const out: number[] = [];
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const cx = mirror ? W - 1 - x : x;
        const sy = y + top - p,
          sx = cx + left - p;
        out.push(sy >= 0 && sy < H && sx >= 0 && sx < W ? raw(n, c, sy, sx) : 0);
      }
  return out;
}

function identifyAugmentation(img: number[], n: number, p: number): string[] {
  const matches: string[] = [];
  for (let top = 0; top <= 2 * p; top++)
    for (let left = 0; left <= 2 * p; left++)
      for (const mirror of [false, true]) if (reference(n, p, top, left, mirror).every((v, i) => v === img[i])) matches.push(`${top},${left},${mirror}`);
  return matches;
}

function loader(epoch: number, extra: Partial<ConstructorParameters<typeof BatchLoader>[1]> = {}) {
  return new BatchLoader(split, { batchSize: 8, shuffle: true, seed: 5, epoch, augment: { cropPadding: 2, flip: true }, ...ID, ...extra });
}

describe("BatchLoader augmentation", () => {
  test("every augmented image is exactly a zero-padded crop (+ optional mirror) of its source", () => {
    const seen = new Set<string>();
    for (const b of loader(0)) {
      for (let k = 0; k < b.size; k++) {
        // The shuffle hides which source image this is; exactly one must explain it.
        const img = toRaw(b.x, k);
        const candidates = [...Array(N).keys()].filter((n) => split.labels[n] === b.y[k] && identifyAugmentation(img, n, 2).length > 0);
        expect(candidates.length).toBe(1);
        const [aug] = identifyAugmentation(img, candidates[0]!, 2);
        seen.add(aug!);
      }
    }
    // Both flips and several distinct offsets occur.
    expect([...seen].some((s) => s.endsWith("true"))).toBe(true);
    expect([...seen].some((s) => s.endsWith("false"))).toBe(true);
    expect(seen.size).toBeGreaterThan(10);
  });

  test('crop only: the shift drawn from Rng(seed, "data-augment", epoch, batch) moves pixels, padding is raw 0', () => {
    const p = 1;
    const b = new BatchLoader(split, { batchSize: N, shuffle: false, seed: 1, epoch: 2, augment: { cropPadding: p, flip: false }, ...ID }).batch(0);
    const rng = new Rng(1, "data-augment", 2, 0);
    const shifts = new Set<string>();
    for (let k = 0; k < N; k++) {
      const sy = rng.int(2 * p + 1) - p,
        sx = rng.int(2 * p + 1) - p;
      shifts.add(`${sy},${sx}`);
      const img = toRaw(b.x, k);
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const yy = y + sy,
              xx = x + sx;
            const want = yy >= 0 && yy < H && xx >= 0 && xx < W ? raw(k, c, yy, xx) : 0;
            expect(img[(c * H + y) * W + x]).toBe(want);
          }
    }
    expect(shifts.size).toBeGreaterThan(5); // of the 9 possible offsets
  });

  test("flip only mirrors each row", () => {
    const b = new BatchLoader(split, { batchSize: N, shuffle: false, seed: 3, epoch: 0, augment: { cropPadding: 0, flip: true }, ...ID }).batch(0);
    let flipped = 0;
    for (let k = 0; k < N; k++) {
      const img = toRaw(b.x, k);
      const plain = reference(k, 0, 0, 0, false),
        mirrored = reference(k, 0, 0, 0, true);
      const isMirror = mirrored.every((v, i) => v === img[i]);
      expect(isMirror || plain.every((v, i) => v === img[i])).toBe(true);
      if (isMirror) flipped++;
    }
    expect(flipped).toBeGreaterThan(N * 0.2);
    expect(flipped).toBeLessThan(N * 0.8);
  });

  test("deterministic given (seed, epoch); random access equals iteration; epochs differ", () => {
    const a = [...loader(3)],
      b = [...loader(3)],
      c = [...loader(4)];
    expect(a.length).toBe(5);
    a.forEach((batch, i) => {
      expect(batch.x).toEqual(b[i]!.x);
      expect(batch.y).toEqual(b[i]!.y);
      expect(batch.index).toBe(i);
    });
    expect(loader(3).batch(3).x).toEqual(a[3]!.x);
    expect([...loader(3).from(4)].map((x) => x.index)).toEqual([4]);
    expect(a.map((x) => Array.from(x.y)).flat()).not.toEqual(c.map((x) => Array.from(x.y)).flat());
    expect(a[0]!.x).not.toEqual(c[0]!.x);
    // A different seed changes the order as well.
    expect(Array.from(loader(3, { seed: 6 }).batch(0).y)).not.toEqual(Array.from(a[0]!.y));
  });

  test("shuffle visits every sample exactly once per epoch", () => {
    const firstPixels = [...loader(0, { augment: undefined })].flatMap((b) => Array.from({ length: b.size }, (_, k) => toRaw(b.x, k)[0]!));
    expect(firstPixels.sort((p, q) => p - q)).toEqual([...Array(N).keys()].map((n) => raw(n, 0, 0, 0)).sort((p, q) => p - q));
  });

  test("dropLast drops the short final batch; otherwise it is kept", () => {
    expect(loader(0, { batchSize: 16, dropLast: true }).numBatches).toBe(2);
    const batches = [...loader(0, { batchSize: 16 })];
    expect(batches.map((b) => b.size)).toEqual([16, 16, 8]);
    expect(batches[2]!.x.length).toBe(8 * C * H * W);
  });
});

describe("normalisation", () => {
  test("LUT maps byte v of channel c to (v/255 - mean[c]) / std[c]", () => {
    const lut = normalisationLut([0.5, 0.25], [0.25, 0.5]);
    expect(lut[255]).toBeCloseTo(2, 6);
    expect(lut[0]).toBeCloseTo(-2, 6);
    expect(lut[256 + 0]).toBeCloseTo(-0.5, 6);
    expect(lut[256 + 51]).toBeCloseTo((0.2 - 0.25) / 0.5, 6);
  });

  test("eval batches normalise per channel, keep order, and padded pixels are raw zero", () => {
    const mean = [0.4, 0.6],
      std = [0.2, 0.3];
    const batches = [...evalBatches(split, 16, mean, std)];
    expect(batches.map((b) => b.size)).toEqual([16, 16, 8]);
    const b = batches[1]!;
    const n = 16 + 3,
      k = 3;
    for (const [c, y, x] of [
      [0, 0, 0],
      [1, 2, 5],
      [1, 5, 5],
    ] as const) {
      const got = b.x[((k * C + c) * H + y) * W + x]!;
      expect(got).toBeCloseTo((raw(n, c, y, x) / 255 - mean[c]!) / std[c]!, 5);
    }
    expect(Array.from(b.y)).toEqual(Array.from(split.labels.subarray(16, 32)));

    const crop = new BatchLoader(split, { batchSize: N, shuffle: false, seed: 9, epoch: 0, augment: { cropPadding: 3, flip: false }, mean, std }).batch(0);
    const zeroValues = [(0 - mean[0]!) / std[0]!, (0 - mean[1]!) / std[1]!];
    // With padding 3 on a 6px image, at least one row or column is padding in most samples.
    let padded = 0;
    for (let k2 = 0; k2 < N; k2++)
      for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) if (Math.abs(crop.x[(k2 * C + c) * H * W + i]! - zeroValues[c]!) < 1e-6) padded++;
    expect(padded).toBeGreaterThan(0);
  });
});
