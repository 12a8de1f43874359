import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { REPO, runner, tempRuns, unit } from "./helpers.ts";

/** Runs f with stderr captured: its return value and what it wrote. */
function captureStderr<T>(f: () => T): { value: T; err: string } {
  const write = process.stderr.write;
  let err = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: f(), err };
  } finally {
    process.stderr.write = write;
  }
}

/** A finished echo unit whose result.json gained a field its schema does not have, with done.json's checksum made to match. */
async function unitWithExtraField() {
  const runs = tempRuns();
  const u = unit("echo", { value: 11 });
  const out = await runUnits([u], runner(runs, { jobs: 1 }), { reportDir: "/nonexistent", log: () => {}, progress: false });
  expect(out!.failed).toEqual([]);
  const store = new RunStore(runs);
  const resultPath = join(store.dir(u.id), "result.json"),
    donePath = join(store.dir(u.id), "done.json");
  const bytes = Buffer.from(JSON.stringify({ ...JSON.parse(readFileSync(resultPath, "utf8")), surpriseField: 1 }, null, 2) + "\n");
  writeFileSync(resultPath, bytes);
  const marker = JSON.parse(readFileSync(donePath, "utf8"));
  writeFileSync(donePath, JSON.stringify({ ...marker, resultSha256: createHash("sha256").update(bytes).digest("hex") }) + "\n");
  return { runs, store, u, resultPath, donePath };
}

describe("damaged records", () => {
  test("an extra field: the notice names it; a read-only read deletes nothing; a run's read sets the unit aside", async () => {
    const { store, u, resultPath, donePath } = await unitWithExtraField();
    const ro = captureStderr(() => store.result(u.id, { readOnly: true }));
    expect(ro.value).toBeNull();
    expect(ro.err).toContain(resultPath);
    expect(ro.err).toContain("surpriseField");
    expect(existsSync(donePath)).toBe(true);
    expect(captureStderr(() => store.isDone(u.id, { readOnly: true })).value).toBe(false);
    expect(existsSync(donePath)).toBe(true);

    const run = captureStderr(() => store.result(u.id));
    expect(run.value).toBeNull();
    expect(run.err).toContain("surpriseField");
    expect(run.err).toContain("will be recomputed");
    expect(existsSync(donePath)).toBe(false);
    // The evidence stays.
    expect(existsSync(resultPath)).toBe(true);
  }, 60_000);

  test("a corrupt done.json is blamed on done.json, not on result.json", async () => {
    const { store, u, donePath, resultPath } = await unitWithExtraField();
    writeFileSync(donePath, '{"resultSha256": "ab');
    const { value, err } = captureStderr(() => store.result(u.id, { readOnly: true }));
    expect(value).toBeNull();
    expect(err).toContain(`${donePath} is corrupt`);
    expect(err).not.toContain(resultPath);
    expect(existsSync(donePath)).toBe(true);
  }, 60_000);

  test("--dry-run planning and collect leave a damaged unit as it is; the next real run recomputes it", async () => {
    const { runs, store, u, donePath } = await unitWithExtraField();
    const plan = captureStderr(() => runUnits([u], runner(runs, { jobs: 1 }), { dryRun: true, reportDir: "/nonexistent", log: () => {}, progress: false }));
    await plan.value;
    expect(existsSync(donePath)).toBe(true);

    const c = Bun.spawnSync([process.execPath, join(REPO, "src/cli/collect.ts"), "--runs-dir", runs], { stdout: "pipe", stderr: "pipe" });
    expect(c.exitCode).toBe(0);
    expect(c.stderr.toString()).toContain("surpriseField");
    expect(c.stderr.toString()).toContain("0 finished unit(s)");
    expect(existsSync(donePath)).toBe(true);

    const before = store.attempts(u.id);
    const out = await runUnits([u], runner(runs, { jobs: 1 }), { reportDir: "/nonexistent", log: () => {}, progress: false });
    expect(out!.failed).toEqual([]);
    expect(store.attempts(u.id)).toBe(before + 1);
    expect(store.result(u.id, { readOnly: true })).not.toBeNull();
  }, 60_000);
});
