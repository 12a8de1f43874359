import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { readStateDict } from "../../src/weights/torch-pt.ts";
import { REPO, runner, tempRuns, tinyTrain } from "../runner/helpers.ts";

/** Runs a script; a clean error is one `error:` line naming the flag, exit 2, no stack trace. */
function spawn(script: string, args: string[]) {
  const r = Bun.spawnSync([process.execPath, join(REPO, script), ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 120_000 });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function expectCleanError(r: { code: number | null; err: string }, message: RegExp): void {
  expect(r.err).toMatch(message);
  expect(r.code).toBe(2);
  expect(r.err).not.toMatch(/^\s+at /m);
}

describe("paths a user names stay inside their directories; a diverged unit is no model", () => {
  let runs = "";
  let models = "";
  let id = "";
  let okId = "";
  beforeAll(async () => {
    runs = tempRuns();
    models = join(mkdtempSync(join(tmpdir(), "models-")), "models");
    // Diverges in its first epoch; its model.ckpt holds NaN weights.
    const nan = tinyTrain(1, { optim: { epochs: 1, batchSize: 32, lr: 1e30 } });
    const ok = tinyTrain(2, { optim: { epochs: 1, batchSize: 32, lr: 0.05 } });
    const out = await runUnits([nan, ok], runner(runs, { jobs: 1 }), { reportDir: "/nonexistent", log: () => {}, progress: false });
    expect(out!.records.get(nan.id)!.status).toBe("diverged");
    expect(out!.records.get(ok.id)!.status).toBe("done");
    id = nan.id;
    okId = ok.id;
  }, 120_000);

  const exportArgs = (...extra: string[]) => ["--preset", "smoke", "--runs-dir", runs, "--models-dir", models, ...extra];

  test("models:export --unit with a path is refused as not a unit id", () => {
    for (const unit of [`../other-store/${id}`, `../${id}`, "/etc"]) {
      const r = spawn("src/cli/models-export.ts", exportArgs("--unit", unit));
      expectCleanError(r, /^error: --unit .*: not a unit id \(expected <kind>-<12 hex digits>/m);
      const dry = spawn("src/cli/models-export.ts", exportArgs("--unit", unit, "--dry-run"));
      expectCleanError(dry, /--unit .*: not a unit id/);
    }
    expect(existsSync(models)).toBe(false);
  }, 120_000);

  test("models:export --checkpoint with a path is a bad flag value; a file of the unit that is no checkpoint is no damage to delete", () => {
    const out = spawn("src/cli/models-export.ts", exportArgs("--unit", id, "--checkpoint", "../../../../etc/passwd"));
    expectCleanError(out, /^error: --checkpoint \.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd: not a file name of unit .*model\.ckpt.*not a path/m);
    expect(out.err).not.toContain("delete it");
    const notCkpt = spawn("src/cli/models-export.ts", exportArgs("--unit", id, "--checkpoint", "unit.json"));
    expectCleanError(
      notCkpt,
      /^error: --checkpoint unit\.json: not a harness checkpoint \(bad magic\); name one of unit .*'s checkpoint files \(model\.ckpt\)/m,
    );
    expect(notCkpt.err).not.toContain("delete it");
    expect(existsSync(models)).toBe(false);
  }, 120_000);

  test("models:export of a diverged unit: its weights are not finite, exit 2, no stack trace", () => {
    const r = spawn("src/cli/models-export.ts", exportArgs("--unit", id));
    expectCleanError(r, /^error: unit .*: model\.ckpt holds non-finite weights \(.*\): the training diverged \(status "diverged", epoch 1\)/m);
    expect(existsSync(models) ? readdirSync(join(models, "units")) : []).toEqual([]);
  }, 120_000);

  test("models:export of a finished unit by its id (and its file by name) still works", () => {
    const r = spawn("src/cli/models-export.ts", exportArgs("--unit", okId, "--checkpoint", "model.ckpt"));
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(readdirSync(join(models, "units"))).toEqual([`${okId}.onnx`]);
  }, 120_000);

  test("models:export --format torch writes the unit's PyTorch state_dict; the reference PreResNet loads it strictly and its keys are the reference code's", async () => {
    const r = spawn("src/cli/models-export.ts", exportArgs("--unit", okId, "--format", "torch"));
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const file = join(models, "units", `${okId}.pt`);
    expect(r.out).toContain(`${file}: train unit, model.ckpt, preresnet20, `);
    const dict = readStateDict(readFileSync(file));
    // PreResNet-20: 19 BNs (4 tensors each and a counter), 21 convs, the fc's weight and bias.
    expect(dict.size).toBe(19 * 5 + 21 + 2);
    expect(dict.get("fc.weight")!.shape).toEqual([10, 16]);
    // Without --unit there is no one model to write.
    expectCleanError(spawn("src/cli/models-export.ts", exportArgs("--format", "torch")), /^error: --format torch needs --unit <id>/m);
    const probe = await probeTorch();
    if (!("found" in probe)) return;
    const py = Bun.spawnSync(
      [
        probe.found.python,
        "-c",
        `import sys; sys.path.insert(0, ${JSON.stringify(join(REPO, "test/fixtures"))}); import torch, torch_reference_models as r; m = r.build("preresnet", 20, 4, 10, 3); m.load_state_dict(torch.load(${JSON.stringify(file)}), strict=True); print("loaded")`,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(py.stderr.toString()).toBe("");
    expect(py.stdout.toString().trim()).toBe("loaded");
  }, 120_000);

  test("bench:train --report-name with a path is refused before anything runs", () => {
    const reports = mkdtempSync(join(tmpdir(), "reports-"));
    for (const name of ["../x", "a/b", "/tmp/x", ".."]) {
      const r = spawn("bench/train-throughput.ts", ["--preset", "smoke", "--report-dir", reports, "--report-name", name, "--dry-run"]);
      expectCleanError(r, /^error: --report-name .*: not a file name/m);
    }
    expect(readdirSync(reports)).toEqual([]);
  }, 120_000);

  test("models:export of a unit whose model.ckpt is damaged: names the damage and how to recompute, changes nothing", () => {
    const path = join(runs, okId, "model.ckpt");
    const bytes = readFileSync(path);
    bytes[bytes.length - 3]! ^= 0x01;
    writeFileSync(path, bytes);
    const r = spawn("src/cli/models-export.ts", exportArgs("--unit", okId));
    expectCleanError(r, /^error: .*model\.ckpt: checksum mismatch \(corrupt file\): unit .*'s output is damaged; .*remove .*done\.json/m);
    expect(r.err).not.toContain("delete it to retrain");
    expect(existsSync(join(runs, okId, "done.json"))).toBe(true);
  }, 120_000);
});
