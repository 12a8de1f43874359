import { expect, test } from "bun:test";
import { bipClaims, PAPER_BIP, sparsestTicket, type MethodPoint } from "../../src/report/bip-claims.ts";
import { impRoundsFor } from "../../src/prune/imp.ts";
import { methodPoint } from "../helpers/method-points.ts";

const opts = { noiseMultiple: 2, accuracyTolerance: 0.005, speedupFromSparsity: 0.5 };

/** Three seeds by default, 0.15 points of accuracy apart either side. */
const point = (method: string, target: number, acc: number, seconds: number, o: { accSpread?: number; timeSpread?: number; n?: number } = {}): MethodPoint =>
  methodPoint(method, target, acc, seconds, { accSpread: 0.0015, n: 3, ...o });

const judge = (points: MethodPoint[], dense = 0.92) =>
  Object.fromEntries(bipClaims(points, dense, opts).map((c, i) => [["speedup", "matches", "tickets"][i]!, c.verdict]));

/**
 * The paper's numbers: BiP about 86 min flat, IMP about 69 min per round (ResNet-18
 * plot) and the ResNet-20 accuracies of Fig. 3. The paper gives no seed spread: 0.15
 * points of accuracy and 1% of time between seeds are assumptions of this test.
 */
function paperPoints(): MethodPoint[] {
  const targets = [...new Set([...Object.keys(PAPER_BIP.accuracy), ...Object.keys(PAPER_BIP.speedup)].map(Number))].sort((a, b) => a - b);
  return targets.flatMap((t) => {
    const [bip, imp] = PAPER_BIP.accuracy[t] ?? PAPER_BIP.accuracy[0.89]!; // 87% has times only: 89%'s accuracies
    return [point("IMP", t, imp / 100, 69 * 60 * impRoundsFor(t)), point("BiP", t, bip / 100, 86 * 60)];
  });
}

test("the paper's own numbers reproduce every claim: 3.2x, 4.8x and 7.2x, accuracies within 0.19 points", () => {
  const points = paperPoints();
  const claims = bipClaims(points, 0.92, opts);
  expect(claims.map((c) => c.verdict)).toEqual(["REPRODUCED", "REPRODUCED", "REPRODUCED"]);
  expect(claims[0]!.measured).toContain("3.2x");
  expect(claims[0]!.measured).toContain("4.8x");
  expect(claims[0]!.measured).toContain("7.2x (s.e. 0.1) at 87.0%");
});

test("the paper's sparsest-ticket finding (IMP 74% vs BiP 67%) is one case, not a refutation", () => {
  // BiP keeps dense accuracy up to 67% (here: 59%), IMP up to 74%; everywhere else BiP is as good or better.
  const points = [0.2, 0.59, 0.74, 0.87].flatMap((t) => [
    point("IMP", t, t <= 0.74 ? 0.921 : 0.905, 100 * impRoundsFor(t)),
    point("BiP", t, t <= 0.59 ? 0.921 : t === 0.74 ? 0.917 : 0.91, 100),
  ]);
  expect(
    sparsestTicket(
      points.filter((p) => p.method === "IMP"),
      0.921,
      0.001,
    )!.target,
  ).toBe(0.74);
  expect(
    sparsestTicket(
      points.filter((p) => p.method === "BiP"),
      0.921,
      0.001,
    )!.target,
  ).toBe(0.59);
  expect(judge(points, 0.921).tickets).toBe("REPRODUCED");
});

test("speedup: each verdict", () => {
  const times = (bip: number, o: { timeSpread?: number } = {}) =>
    [0.59, 0.74].flatMap((t) => [point("IMP", t, 0.9, 100 * impRoundsFor(t), o), point("BiP", t, 0.9, bip, o)]);
  expect(judge(times(100)).speedup).toBe("REPRODUCED"); // 4x, 6x
  expect(judge(times(400)).speedup).toBe("NOT REPRODUCED"); // 1x, 1.5x
  expect(judge(times(200, { timeSpread: 40 })).speedup).toBe("INCONCLUSIVE"); // 2x and 3x, noisy
  // Far above 7x is faster than claimed, not a failure: the ratio grows with IMP's rounds.
  expect(judge([point("IMP", 0.87, 0.9, 900), point("BiP", 0.87, 0.9, 90)]).speedup).toBe("REPRODUCED");
  expect(judge([point("IMP", 0.2, 0.9, 100), point("BiP", 0.2, 0.9, 100)]).speedup).toBe("INCONCLUSIVE"); // nothing >= 50%
});

test("accuracy: matches within the tolerance beyond noise, trails beyond it, or cannot tell", () => {
  const acc = (bip: number, o: { accSpread?: number; n?: number } = {}) =>
    [0.59, 0.74].flatMap((t) => [point("IMP", t, 0.9, 100, o), point("BiP", t, bip, 100, o)]);
  expect(judge(acc(0.899)).matches).toBe("REPRODUCED");
  expect(judge(acc(0.88)).matches).toBe("NOT REPRODUCED");
  expect(judge(acc(0.895, { accSpread: 0.003 })).matches).toBe("INCONCLUSIVE");
  expect(judge(acc(0.91, { n: 1 })).matches).toBe("INCONCLUSIVE");
  // "Most cases": worse at most sparsities is NOT REPRODUCED; within noise at most, INCONCLUSIVE.
  expect(judge(acc(0.88)).tickets).toBe("NOT REPRODUCED");
  expect(judge(acc(0.895, { accSpread: 0.003 })).tickets).toBe("INCONCLUSIVE");
  expect(judge(acc(0.91)).tickets).toBe("REPRODUCED");
});
