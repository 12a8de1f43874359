import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { changedSettings, collectRuns } from "../../src/report/collect.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { REPO, runner, tempRuns, tinyTrain } from "../runner/helpers.ts";

test("changed settings are the ones that differ from the schema's defaults, without references to other units", () => {
  const changed = changedSettings("omp-unit", {
    training: { optim: { epochs: 160, batchSize: 128 }, model: { arch: "preresnet20", width: 8 } },
    dense: "dense-0123456789ab",
    finalEpoch: 160,
    sparsity: 0.59,
  });
  expect(changed).toEqual({ "training.optim.batchSize": 128, "training.model.width": 8, finalEpoch: 160, sparsity: 0.59 });
});

test("a finished unit keeps per-epoch metrics in its folder and worker.log; collect tables every finished unit", async () => {
  const runs = tempRuns();
  const done = tinyTrain(3, { optim: { epochs: 2, batchSize: 32, lr: 0.05 } });
  const planned = tinyTrain(4, { optim: { epochs: 2, batchSize: 32, lr: 0.05 } });
  const out = await runUnits([done], runner(runs, { jobs: 1 }), { reportDir: join(runs, "reports"), log: () => {}, progress: false });
  expect(out!.failed).toEqual([]);
  const store = new RunStore(runs);
  store.plan(planned);
  const record = store.result(done.id)!;
  const lines = readFileSync(join(store.dir(done.id), "epochs.jsonl"), "utf8")
    .trim()
    .split("\n");
  expect(lines.map((l) => JSON.parse(l))).toEqual(record.metrics.epochs as unknown[]);
  const log = readFileSync(join(store.dir(done.id), "worker.log"), "utf8");
  expect(log).toMatch(/epoch 1\/2 lr \S+ train loss \d\.\d{4} acc \d\.\d{4}/);
  expect(log).toMatch(/epoch 2\/2 .* test acc \d\.\d{4}/);

  const { rows, incomplete } = await collectRuns(runs);
  expect(incomplete).toBe(1);
  expect(rows.length).toBe(1);
  const row = rows[0]!;
  expect(row.unitId).toBe(done.id);
  expect(row.kind).toBe("train");
  expect(row["config.optim.epochs"]).toBe(2);
  expect(row["config.model.width"]).toBe(4);
  expect(row["config.seed"]).toBe(3);
  expect(row["config.optim.momentum"]).toBeUndefined();
  expect(row["metrics.finalTestAccuracy"]).toBe(record.metrics.finalTestAccuracy);
  expect(row["metrics.epochs"]).toBe(2);
  expect(row.wallSeconds).toBe(record.wallSeconds);
  expect(row.engine).toBe("onnx");

  // The command writes the same table as CSV, and only the asked-for kinds.
  const file = join(runs, "..", "table.csv");
  const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/collect.ts"), "--runs-dir", runs, "--out", file], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  expect(r.stderr.toString()).toContain("1 finished unit(s)");
  expect(r.stderr.toString()).toContain("1 not finished");
  const [head, first] = readFileSync(file, "utf8").trim().split("\n") as [string, string];
  expect(head.split(",").slice(0, 3)).toEqual(["unitId", "kind", "label"]);
  expect(first.startsWith(`${done.id},train,`)).toBe(true);
  const none = Bun.spawnSync([process.execPath, join(REPO, "src/cli/collect.ts"), "--runs-dir", runs, "--kind", "cell", "--format", "jsonl"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(none.exitCode).toBe(0);
  expect(none.stdout.toString()).toBe("");
  const missing = Bun.spawnSync([process.execPath, join(REPO, "src/cli/collect.ts"), "--runs-dir", join(runs, "nope")], { stdout: "pipe", stderr: "pipe" });
  expect(missing.exitCode).toBe(2);
  expect(existsSync(join(runs, "nope"))).toBe(false);
}, 120_000);
