/** The rules every verdict is made of, at their boundaries, worked by hand. */
import { expect, test } from "bun:test";
import { regimeOf } from "../../src/report/fig2-claims.ts";
import { side, tally } from "../../src/report/verdict.ts";

const thresholds = { lmcBarrier: -0.05, cka: 0.95 };

test("a value exactly at a regime threshold is on the connected, similar side (regime I and II-A need strictly below)", () => {
  expect(regimeOf(-0.05, 0.99, thresholds)).toBe("II-B");
  expect(regimeOf(-0.0500001, 0.99, thresholds)).toBe("I");
  expect(regimeOf(0, 0.95, thresholds)).toBe("II-B");
  expect(regimeOf(0, 0.9499999, thresholds)).toBe("II-A");
  expect(regimeOf(-0.2, 0.5, thresholds)).toBe("I");
  expect(regimeOf(0, null, thresholds)).toBeNull();
});

test("tally: as many contradictions as supports is NOT REPRODUCED; REPRODUCED needs none and more than half", () => {
  expect(tally(["supported", "contradicted"])).toBe("NOT REPRODUCED");
  expect(tally(["supported", "supported", "contradicted"])).toBe("INCONCLUSIVE");
  expect(tally(["supported", "unclear"])).toBe("INCONCLUSIVE");
  expect(tally(["supported", "supported", "unclear"])).toBe("REPRODUCED");
  expect(tally(["unclear", "unclear"])).toBe("INCONCLUSIVE");
  expect(tally(["contradicted", "unclear"])).toBe("NOT REPRODUCED");
  expect(tally([])).toBe("INCONCLUSIVE");
});

test("side: only a distance beyond k standard errors leaves 'within'; exactly k is within", () => {
  expect(side(1.2, 0.1, 1, 2)).toBe("within");
  expect(side(1.2000001, 0.1, 1, 2)).toBe("above");
  expect(side(0.7, 0.1, 1, 2)).toBe("below");
  expect(side(0.8, 0.1, 1, 2)).toBe("within");
  // An unknown error counts as none: any difference decides.
  expect(side(1.001, Number.NaN, 1, 2)).toBe("above");
  expect(side(1, 0, 1, 2)).toBe("within");
});
