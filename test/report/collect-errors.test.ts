import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { REPO, runner, tempRuns, unit } from "../runner/helpers.ts";

function collect(args: string[]) {
  const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/collect.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** One `error:` line naming the flag, exit 2, no stack trace. */
function expectCleanError(r: { code: number | null; err: string }, message: RegExp): void {
  expect(r.err).toMatch(message);
  expect(r.code).toBe(2);
  expect(r.err).not.toMatch(/^\s+at /m);
}

describe("collect: bad input is a clean error; nothing in the store is left out silently or changed", () => {
  let runs = "";
  let store: RunStore;
  const finished = unit("echo", { value: 21 });
  const orphan = unit("echo", { value: 22 });
  const broken = unit("echo", { value: 23 });
  beforeAll(async () => {
    runs = tempRuns();
    const out = await runUnits([finished, orphan, broken], runner(runs, { jobs: 1 }), { reportDir: "/nonexistent", log: () => {}, progress: false });
    expect(out!.failed).toEqual([]);
    store = new RunStore(runs);
    // A unit folder that lost its unit.json, and one whose done.json is damaged.
    renameSync(join(store.dir(orphan.id), "unit.json"), join(store.dir(orphan.id), "unit.json.bak"));
    writeFileSync(join(store.dir(broken.id), "done.json"), "{");
  }, 60_000);

  test("--runs-dir naming a file", () => {
    const file = join(runs, finished.id, "result.json");
    expectCleanError(collect(["--runs-dir", file]), /^error: --runs-dir .*result\.json: a file, not a directory/m);
  });

  test("--out in a place that cannot be written", () => {
    expectCleanError(collect(["--runs-dir", runs, "--out", "/proc/nope/x.csv"]), /^error: --out \/proc\/nope\/x\.csv: cannot write it \(E[A-Z]+/m);
  });

  test("--kind naming no kind: exit 2 with the known kinds", () => {
    const r = collect(["--runs-dir", runs, "--kind", "nosuchkind"]);
    expectCleanError(r, /^error: --kind nosuchkind: no such unit kind; known kinds: .*\btrain\b.*\bdense\b/m);
    expect(r.out).toBe("");
    // A known kind with no finished unit is an empty table, not an error.
    expect(collect(["--runs-dir", runs, "--kind", "cell"]).code).toBe(0);
  });

  test("a unit folder without unit.json is named; a damaged done.json is blamed on done.json and kept", () => {
    const r = collect(["--runs-dir", runs, "--format", "jsonl"]);
    expect(r.code).toBe(0);
    expect(
      r.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).unitId),
    ).toEqual([finished.id]);
    expect(r.err).toContain(`${store.dir(orphan.id)} has no unit.json`);
    expect(r.err).toContain(`${join(store.dir(broken.id), "done.json")} is corrupt`);
    expect(r.err).not.toContain(join(store.dir(broken.id), "result.json"));
    expect(readFileSync(join(store.dir(broken.id), "done.json"), "utf8")).toBe("{");
    expect(r.err).toContain("1 finished unit(s)");
  });

  test("hidden folders (the Slurm executor's .slurm) are not units and draw no notice", () => {
    mkdirSync(join(runs, ".slurm"), { recursive: true });
    expect(collect(["--runs-dir", runs]).err).not.toContain(".slurm");
    expect(existsSync(join(runs, ".slurm"))).toBe(true);
  });
});
