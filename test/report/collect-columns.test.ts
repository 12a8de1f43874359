/** collect's settings and columns, worked by hand on small configs. */
import { expect, test } from "bun:test";
import { changedSettings, collectedColumns, type CollectedRow } from "../../src/report/collect.ts";

const ID = "train-0123456789ab";

test("changed settings: values at their schema default are left out, others kept by dotted path; unit references dropped; lists are one value", () => {
  expect(
    changedSettings("training", {
      seed: 0,
      optim: { lr: 0.05, momentum: 0.9, schedule: { milestones: [0.5, 0.75] } },
      data: { dataset: "synthetic" },
      source: ID,
      models: [ID, ID],
      tags: [],
      nothing: null,
    }),
  ).toEqual({ "optim.lr": 0.05, "data.dataset": "synthetic", tags: [], nothing: null, seed: 0 });
  // Without a schema nothing has a default: everything but references counts.
  expect(changedSettings(undefined, { a: 1, b: { c: "x" }, d: ID, e: ["not-an-id", ID] })).toEqual({ a: 1, "b.c": "x", e: ["not-an-id", ID] });
});

test("columns: identity and run columns in a fixed order, then config.* and metrics.* each sorted; absent ones left out", () => {
  const rows = [
    { unitId: "u", kind: "k", "metrics.b": 1, "config.z": 1, wallSeconds: 2, "metrics.a": 0, other: 3 },
    { unitId: "v", kind: "k", label: "L", "config.a": 2 },
  ] as CollectedRow[];
  expect(collectedColumns(rows)).toEqual(["unitId", "kind", "label", "wallSeconds", "config.a", "config.z", "metrics.a", "metrics.b"]);
});
