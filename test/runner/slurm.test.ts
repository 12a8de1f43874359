import { describe, expect, test } from "bun:test";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { sbatchAvailable } from "../../src/runner/slurm.ts";
import { outcomeOf, runner, tempRuns, tinyTrain, unit } from "./helpers.ts";

/** sbatch on PATH and a node that answers: a half-configured cluster skips rather than fails. */
async function clusterUp(): Promise<string | null> {
  if (!(await sbatchAvailable())) return "sbatch/squeue not on PATH";
  const r = Bun.spawnSync(["sinfo", "-h", "-o", "%T"], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 && /idle|mix|alloc/.test(r.stdout.toString())
    ? null
    : `no Slurm node answers (sinfo: ${r.stderr.toString().trim() || r.stdout.toString().trim() || "nothing"})`;
}
const reason = await clusterUp();
const available = reason === null;
if (!available) console.warn(`skipping the Slurm executor tests: ${reason} (as root, \`scripts/slurm-localhost.sh start\` runs a one-node cluster)`);

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };
const slurm = (runs: string, maxAttempts = 3) =>
  runner(runs, { executor: "slurm", maxAttempts, slurm: { cpusPerTask: 1, memory: "1G", time: "00:10:00", pollSeconds: 0.5, pollRetries: 5, extraArgs: [] } });

describe.skipIf(!available)("Slurm executor (one-node cluster on localhost)", () => {
  test("a job array trains the same models as the local executor", async () => {
    const units = [tinyTrain(11), tinyTrain(12)];
    const local = await runUnits(units, runner(tempRuns()), quiet);
    const viaSlurm = await runUnits(units, slurm(tempRuns()), quiet);
    for (const u of units) expect(outcomeOf(viaSlurm!.records.get(u.id))).toEqual(outcomeOf(local!.records.get(u.id)));
  }, 120_000);

  test("dependencies run in later waves; failures are resubmitted up to the limit, then reported", async () => {
    const runs = tempRuns();
    const a = unit("echo", { value: 1 });
    const b = unit("echo", { value: 2 }, [a.id]);
    const bad = unit("always-fails", { n: 2 });
    const out = await runUnits([a, b, bad], slurm(runs, 2), quiet);
    expect(out!.records.get(b.id)!.metrics.depValues).toEqual([1]);
    expect(out!.failed.map((f) => f.id)).toEqual([bad.id]);
    expect(new RunStore(runs).attempts(bad.id)).toBe(2);
  }, 120_000);
});
