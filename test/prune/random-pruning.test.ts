import { expect, test } from "bun:test";
import { randomMasks } from "../../src/prune/random.ts";

const params = { a: new Float32Array(10).fill(1), b: new Float32Array(7).fill(-2) };

test("every layer keeps exactly round(density x size) weights, whatever their values", () => {
  for (const density of [0, 0.3, 0.5, 1]) {
    const m = randomMasks(params, ["a", "b"], density, 1);
    expect(m.a!.reduce((s, v) => s + v, 0)).toBe(Math.round(10 * density));
    expect(m.b!.reduce((s, v) => s + v, 0)).toBe(Math.round(7 * density));
    expect([...m.a!, ...m.b!].every((v) => v === 0 || v === 1)).toBe(true);
  }
});

test("the seed decides the draw: the same seed, the same masks; another seed, others", () => {
  const key = (s: number) => [...randomMasks(params, ["a", "b"], 0.5, s).a!].join("");
  expect(key(3)).toBe(key(3));
  expect(new Set([1, 2, 3, 4, 5, 6].map(key)).size).toBeGreaterThan(3);
});

test("every position is kept with probability density (1,000 seeds: within 4.5 binomial standard deviations)", () => {
  const n = 1000,
    density = 0.3;
  const kept = new Float64Array(10);
  for (let s = 0; s < n; s++) randomMasks(params, ["a"], density, s).a!.forEach((v, i) => (kept[i]! += v));
  const sd = Math.sqrt(n * density * (1 - density));
  for (const k of kept) expect(Math.abs(k - n * density)).toBeLessThan(4.5 * sd);
});
