import { expect, test } from "bun:test";
import { validateConfig } from "../../src/config/load.ts";
import type { RunnerConfig } from "../../src/config/generated/runner.ts";
import { gpuList } from "../../src/cli/common.ts";
import { gpuEnv, pickGpu } from "../../src/runner/local-pool.ts";
import { resources, runUnits } from "../../src/runner/run-units.ts";
import { sbatchScript } from "../../src/runner/slurm.ts";
import { runner, tempRuns, unit } from "./helpers.ts";

test("a new worker goes to the least busy GPU with a free slot, and to none when all are full", () => {
  expect(pickGpu(["0", "1"], new Map(), 2)).toBe("0");
  expect(pickGpu(["0", "1"], new Map([["0", 1]]), 2)).toBe("1");
  expect(
    pickGpu(
      ["0", "1"],
      new Map([
        ["0", 2],
        ["1", 1],
      ]),
      2,
    ),
  ).toBe("1");
  expect(
    pickGpu(
      ["0", "1"],
      new Map([
        ["0", 2],
        ["1", 2],
      ]),
      2,
    ),
  ).toBeNull();
  expect(pickGpu(["3"], new Map([["3", 0]]), 1)).toBe("3");
});

test("with GPUs and no --jobs, the pool runs GPUs x jobs-per-GPU workers", () => {
  expect(resources(validateConfig<RunnerConfig>("runner", { gpus: ["0", "1"], jobsPerGpu: 3 })).jobs).toBe(6);
  expect(resources(validateConfig<RunnerConfig>("runner", { gpus: ["0", "1"], jobsPerGpu: 3, jobs: 2 })).jobs).toBe(2);
  expect(() => validateConfig<RunnerConfig>("runner", { gpus: ["cuda:0"] })).toThrow(/gpus/);
});

test("each worker sees exactly one GPU, and no GPU gets more than jobs-per-GPU workers", async () => {
  const runs = tempRuns();
  const units = [1, 2, 3, 4].map((v) => unit("echo", { value: v, sleepMs: 1500 }));
  const out = await runUnits(units, runner(runs, { jobs: 0, gpus: ["0", "1"], jobsPerGpu: 2 }), { reportDir: "/nonexistent", log: () => {}, progress: false });
  const seen = units.map((u) => out!.records.get(u.id)!.metrics.cudaVisibleDevices as string).sort();
  // Four workers start together: two on each GPU.
  expect(seen).toEqual(["0", "0", "1", "1"]);
}, 60_000);

test("Slurm: jobs-per-GPU packs that many units into each array task, sharing its GPU and CPUs", () => {
  const slurm = validateConfig<RunnerConfig>("runner", { slurm: { cpusPerTask: 8, gpus: 1 } }).slurm;
  const s = sbatchScript({ name: "x", count: 5, manifest: "/m", runsDir: "/r", logDir: "/l", slurm, staleLockSeconds: 60, jobsPerGpu: 2 });
  expect(s).toContain("#SBATCH --array=0-2");
  expect(s).toContain("#SBATCH --gpus-per-task=1");
  expect(s).toContain("i=$((SLURM_ARRAY_TASK_ID * 2 + j))");
  expect(s).toContain('if [ "$i" -lt 5 ]');
  expect(s).toContain("--threads 4");
  const one = sbatchScript({ name: "x", count: 5, manifest: "/m", runsDir: "/r", logDir: "/l", slurm, staleLockSeconds: 60 });
  expect(one).toContain("#SBATCH --array=0-4");
  expect(one).toContain("--index $SLURM_ARRAY_TASK_ID --threads 8");
  // The script is valid bash.
  expect(Bun.spawnSync(["bash", "-n", "-c", s]).exitCode).toBe(0);
});

test("--gpus numbers index into an inherited CUDA_VISIBLE_DEVICES; without one they are nvidia-smi's PCI order", () => {
  expect(gpuEnv("1", {})).toEqual({ CUDA_VISIBLE_DEVICES: "1", CUDA_DEVICE_ORDER: "PCI_BUS_ID", PRUNING_HARNESS_GPU_REQUIRED: "--gpus" });
  // A scheduler gave this job GPUs 3 and 5: --gpus 1 is the second of those, in the scheduler's own numbering.
  expect(gpuEnv("1", { CUDA_VISIBLE_DEVICES: "3,5" })).toMatchObject({ CUDA_VISIBLE_DEVICES: "5" });
  expect(gpuEnv("1", { CUDA_VISIBLE_DEVICES: "3,5" }).CUDA_DEVICE_ORDER).toBeUndefined();
  expect(gpuEnv("0", { CUDA_VISIBLE_DEVICES: "GPU-8d2f,GPU-11aa" })).toMatchObject({ CUDA_VISIBLE_DEVICES: "GPU-8d2f" });
  expect(() => gpuEnv("2", { CUDA_VISIBLE_DEVICES: "3,5" })).toThrow(
    /--gpus 2: this job was given 2 GPU\(s\) \(CUDA_VISIBLE_DEVICES=3,5\), which --gpus numbers 0..1/,
  );
  expect(() => gpuEnv("0", { CUDA_VISIBLE_DEVICES: "" })).toThrow(/may use no GPU/);
});

test("--gpus all under a scheduler's CUDA_VISIBLE_DEVICES is that list, and workers get its devices", async () => {
  const saved = process.env.CUDA_VISIBLE_DEVICES;
  process.env.CUDA_VISIBLE_DEVICES = "3,5";
  try {
    expect(gpuList("all")).toEqual(["0", "1"]);
    const runs = tempRuns();
    const units = [1, 2].map((v) => unit("echo", { value: v, sleepMs: 800 }));
    const out = await runUnits(units, runner(runs, { jobs: 0, gpus: ["0", "1"], jobsPerGpu: 1 }), {
      reportDir: "/nonexistent",
      log: () => {},
      progress: false,
    });
    const seen = units.map((u) => out!.records.get(u.id)!.metrics.cudaVisibleDevices as string).sort();
    expect(seen).toEqual(["3", "5"]);
    // A device the job was not given is refused before anything runs.
    await expect(runUnits(units, runner(tempRuns(), { gpus: ["2"] }), { reportDir: "/nonexistent", log: () => {}, progress: false })).rejects.toThrow(
      /CUDA_VISIBLE_DEVICES=3,5/,
    );
  } finally {
    if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = saved;
  }
}, 60_000);

test("workers placed by nvidia-smi numbers get CUDA_DEVICE_ORDER=PCI_BUS_ID", async () => {
  const saved = process.env.CUDA_VISIBLE_DEVICES;
  delete process.env.CUDA_VISIBLE_DEVICES;
  try {
    const u = unit("echo", { value: 41 });
    const out = await runUnits([u], runner(tempRuns(), { gpus: ["1"] }), { reportDir: "/nonexistent", log: () => {}, progress: false });
    expect(out!.records.get(u.id)!.metrics).toMatchObject({ cudaVisibleDevices: "1", cudaDeviceOrder: "PCI_BUS_ID" });
  } finally {
    if (saved !== undefined) process.env.CUDA_VISIBLE_DEVICES = saved;
  }
}, 60_000);
