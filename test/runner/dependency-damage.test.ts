import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DependencyDamaged } from "../../src/runner/dependency-error.ts";
import { loadSnapshot, snapshotFile } from "../../src/runner/kinds/dense.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { EXIT, runWorker } from "../../src/runner/worker.ts";
import { runner, tempRuns, unit } from "./helpers.ts";

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };

/** A finished producer (a dense unit's stand-in) and the path of the snapshot it wrote. */
async function finishedProducer() {
  const runs = tempRuns();
  const producer = unit("snapshot-producer", { value: 7 });
  const first = unit("snapshot-consumer", { source: producer.id, tag: 1 }, [producer.id]);
  const out = await runUnits([producer, first], runner(runs), quiet);
  expect(out!.failed).toEqual([]);
  const store = new RunStore(runs);
  return { runs, store, producer, snapshot: join(store.dir(producer.id), snapshotFile(1)) };
}

function flipByte(path: string): void {
  const b = readFileSync(path);
  b[b.length - 5]! ^= 0x10;
  writeFileSync(path, b);
}

describe("a dependency's damaged output", () => {
  test("reading it is a DependencyDamaged naming the dependency, for a flipped bit and for a missing file", async () => {
    const { store, producer, snapshot } = await finishedProducer();
    const ctx = { dep: (id: string) => ({ record: store.result(id)!, dir: store.dir(id) }) } as Parameters<typeof loadSnapshot>[0];
    expect(loadSnapshot(ctx, producer.id, 1).state.params.w![0]).toBe(7);
    flipByte(snapshot);
    const damaged = (() => {
      try {
        loadSnapshot(ctx, producer.id, 1);
      } catch (e) {
        return e;
      }
    })();
    expect(damaged).toBeInstanceOf(DependencyDamaged);
    expect((damaged as DependencyDamaged).depId).toBe(producer.id);
    expect((damaged as Error).message).toContain("checksum mismatch");
    // Deleting a damaged file is not a fix the dependent can act on; it is the same damage.
    expect((damaged as Error).message).not.toContain("delete it");
    rmSync(snapshot);
    expect(() => loadSnapshot(ctx, producer.id, 1)).toThrow(DependencyDamaged);
    expect(() => loadSnapshot(ctx, producer.id, 1)).toThrow(/snapshot-e1\.ckpt is missing/);
  }, 60_000);

  // Needs the DependencyDamaged hooks of the worker (src/runner/worker.ts) and the local pool (local-pool.ts).
  for (const damage of ["flipped bit", "deleted file"] as const) {
    test(`${damage}: the producer is invalidated and recomputed once, then the dependent runs (not retried blindly)`, async () => {
      const { runs, store, producer, snapshot } = await finishedProducer();
      if (damage === "flipped bit") flipByte(snapshot);
      else rmSync(snapshot);
      const next = unit("snapshot-consumer", { source: producer.id, tag: 2 }, [producer.id]);
      // One attempt each: meeting a damaged dependency is no failed attempt of the dependent.
      const out = await runUnits([producer, next], runner(runs, { maxAttempts: 1 }), quiet);
      expect(out!.failed).toEqual([]);
      expect(out!.records.get(next.id)!.metrics.first).toBe(7);
      expect(store.attempts(producer.id)).toBe(2);
      expect(readFileSync(snapshot).length).toBeGreaterThan(0);
      const log = readFileSync(join(store.dir(next.id), "worker.log"), "utf8");
      expect(log).toContain(`dependency ${producer.id}: ${snapshot} is ${damage === "flipped bit" ? "damaged: checksum mismatch" : "missing"}`);
    }, 60_000);
  }

  test("the worker withdraws the dependency's completeness and exits 'dependency not complete', not 'failed'", async () => {
    const { runs, store, producer, snapshot } = await finishedProducer();
    flipByte(snapshot);
    const next = unit("snapshot-consumer", { source: producer.id, tag: 3 }, [producer.id]);
    store.plan(next);
    expect(await runWorker({ runsDir: runs, unitId: next.id, threads: 1, log: () => {} })).toBe(EXIT.depsMissing);
    expect(existsSync(join(store.dir(producer.id), "done.json"))).toBe(false);
    // The evidence stays: only the claim of completeness goes.
    expect(existsSync(snapshot)).toBe(true);
  }, 60_000);
});
