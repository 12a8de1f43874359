import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultPathVerdict, outputDirFacts, renderCudaEp, type CudaEpFacts, type DefaultPathFacts } from "../../src/cli/doctor.ts";
import { missingCudaLibraries } from "../../src/engine/onnx/providers.ts";
import {
  classifyIcd,
  detectNvidia,
  detectVulkan,
  parseNvidiaSmiCsv,
  parseVulkaninfoSummary,
  vulkanIcdDirs,
  type CommandResult,
  type CommandRunner,
} from "../../src/engine/hardware.ts";
import { DATASET_NAMES } from "../../src/data/datasets.ts";

const REPO = join(import.meta.dir, "..", "..");
const tmp = () => mkdtempSync(join(tmpdir(), "doctor-test-"));

/** A fake PATH: each known command answers with its canned result; any other is not installed. */
const fakeRunner = (answers: Record<string, Partial<CommandResult>>): CommandRunner & { calls: string[][] } => {
  const calls: string[][] = [];
  const run = (argv: string[]) => {
    calls.push(argv);
    const a = answers[argv[0]!];
    return a ? { found: true, exitCode: 0, stdout: "", stderr: "", ...a } : { found: false, exitCode: null, stdout: "", stderr: "" };
  };
  return Object.assign(run, { calls });
};

const icdDir = (files: Record<string, string>) => {
  const dir = join(tmp(), "icd.d");
  mkdirSync(dir, { recursive: true });
  for (const [name, library] of Object.entries(files))
    writeFileSync(join(dir, name), JSON.stringify({ file_format_version: "1.0.0", ICD: { library_path: library, api_version: "1.3.0" } }));
  return dir;
};

// ------------------------------------------------------------ the command itself

const doctor = (args: string[]) => {
  const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/doctor.ts"), ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

test("doctor --json prints one JSON object with every section, and exits 0 where the CPU path works", () => {
  const r = doctor(["--json"]);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out) as Record<string, any>;
  expect(Object.keys(j).sort()).toEqual(
    ["autoEngine", "autoProbes", "commit", "datasets", "defaultPath", "hardware", "machine", "onnx", "runtime", "slurm", "tfjs", "torch"].sort(),
  );
  expect(j.runtime.bun).toBe(Bun.version);
  expect(["onnx", "torch"]).toContain(j.autoEngine.engine);
  expect(typeof j.autoEngine.why).toBe("string");
  expect(Array.isArray(j.autoProbes)).toBe(true);
  expect(j.onnx.providers.map((p: { name: string }) => p.name)).toEqual(["cpu", "cuda", "webgpu"]);
  expect(j.onnx.cpuStep).toMatchObject({ engine: "onnx", device: "cpu", ok: true, trainedOn: "cpu" });
  expect(typeof j.onnx.cudaEp.install.installed).toBe("boolean");
  for (const m of j.onnx.cudaEp.missing) expect(m).toMatchObject({ soname: expect.stringMatching(/\.so\.\d+$/), fix: expect.stringMatching(/.{20,}/) });
  expect(typeof j.hardware.nvidia.driverLoaded).toBe("boolean");
  expect(["missing", "ok", "failed"]).toContain(j.hardware.nvidia.nvidiaSmi);
  expect(["gpu", "software", "none"]).toContain(j.hardware.vulkan.verdict);
  expect(Array.isArray(j.hardware.vulkan.icds)).toBe(true);
  expect(j.datasets.embeddedSubset.found).toBe(true);
  // Every dataset of the registry is listed, with where it is (or null), or read from --data-dir only.
  expect(j.datasets.all.map((d: { name: string }) => d.name).sort()).toEqual([...DATASET_NAMES].sort());
  const byName = new Map(j.datasets.all.map((d: { name: string; path?: string | null }) => [d.name, d]));
  expect(byName.get("fashion-mnist-embedded")).toMatchObject({ path: expect.stringContaining("fashion-mnist-subset") });
  expect(byName.get("npy")).not.toHaveProperty("path");
  expect(j.defaultPath).toMatchObject({ ok: true, exitCode: 0, reasons: [] });
  expect(j.defaultPath.checks.map((c: { what: string }) => c.what)).toEqual(["engine", "data", "--runs-dir", "--report-dir"]);
  // @tensorflow/tfjs-node is no dependency of this project: no key, no line, no mention.
  expect(j.tfjs.native.map((n: { package: string }) => n.package)).toEqual(["@tensorflow/tfjs-node-gpu"]);
  expect(j.tfjs.native[0].listedAs).toBe("optional dependency");
  expect(r.out).not.toMatch(/@tensorflow\/tfjs-node(?!-gpu)/);
}, 120_000);

test("doctor's human report has the hardware section, no tfjs-node line, and ends with the default path's verdict", () => {
  const r = doctor([]);
  expect(r.code).toBe(0);
  expect(r.out).toContain("GPU hardware\n");
  expect(r.out).toMatch(/nvidia-smi|GPU \d+:/);
  expect(r.out).toMatch(/Vulkan/);
  expect(r.out).toMatch(/CUDA EP provider libraries (not installed in .*: run `bun run setup:cuda-ep`|installed in )/);
  expect(r.out).toMatch(/CUDA EP runtime libraries .*: all found|libcu\S+ \(.*\) not found: /);
  expect(r.out).not.toMatch(/@tensorflow\/tfjs-node(?!-gpu)/);
  expect(r.out.trimEnd().split("\n").at(-1)).toBe("default path: OK");
}, 120_000);

test("doctor exits 1, saying why, when the default path cannot write its run store", () => {
  const file = join(tmp(), "not-a-dir");
  writeFileSync(file, "");
  const r = doctor(["--json", "--runs-dir", join(file, "runs")]);
  expect(r.code).toBe(1);
  const j = JSON.parse(r.out);
  expect(j.defaultPath.ok).toBe(false);
  expect(j.defaultPath.reasons.join(" ")).toMatch(/--runs-dir: .*not writable.*file in the way/);
}, 120_000);

// ------------------------------------------------------------ NVIDIA

test("nvidia-smi's CSV is parsed into GPUs; the driver's version comes from /proc/driver/nvidia/version", () => {
  const versionFile = join(tmp(), "version");
  writeFileSync(versionFile, "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc 12\n");
  const run = fakeRunner({ "nvidia-smi": { stdout: "NVIDIA H200, 143771 MiB, 550.54.14, Default\nNVIDIA H200, 143771 MiB, 550.54.14, Default\n" } });
  const f = detectNvidia({ run, driverPresent: () => true, versionFile });
  expect(run.calls[0]).toEqual(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,compute_mode", "--format=csv,noheader"]);
  expect(f.nvidiaSmi).toBe("ok");
  expect(f.driverLoaded).toBe(true);
  expect(f.kernelModule).toBe("550.54.14");
  expect(f.gpus).toEqual([
    { index: 0, name: "NVIDIA H200", memory: "143771 MiB", driver: "550.54.14", computeMode: "Default" },
    { index: 1, name: "NVIDIA H200", memory: "143771 MiB", driver: "550.54.14", computeMode: "Default" },
  ]);
  expect(f.mps).toBe(false);
  expect(f.meaning).toMatch(/compute mode Default, no MPS daemon: --jobs-per-gpu above 1 shares each GPU/);
  expect(f.meaning).toMatch(/torch engine can train on CUDA/);
  expect(parseNvidiaSmiCsv("\n")).toEqual([]);
});

test("doctor reports each GPU's compute mode and whether MPS runs: exclusive-process mode without MPS means one job per GPU", () => {
  const versionFile = join(tmp(), "version");
  writeFileSync(versionFile, "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n");
  const smi = { stdout: "NVIDIA H100 80GB HBM3, 81559 MiB, 550.54.14, Exclusive_Process\n" };
  const alone = detectNvidia({ run: fakeRunner({ "nvidia-smi": smi }), driverPresent: () => true, versionFile });
  expect(alone.gpus[0]!.computeMode).toBe("Exclusive_Process");
  expect(alone.meaning).toMatch(/GPU 0 in exclusive-process mode and no MPS daemon: only one process per GPU, so keep --jobs-per-gpu 1/);
  const shared = detectNvidia({ run: fakeRunner({ "nvidia-smi": smi, pgrep: { stdout: "4242\n" } }), driverPresent: () => true, versionFile });
  expect(shared.mps).toBe(true);
  expect(shared.meaning).toMatch(/shared through the running MPS daemon: --jobs-per-gpu above 1 works/);
});

test("no nvidia-smi is 'missing', not an error; a failing one is reported with its message", () => {
  const none = detectNvidia({ run: fakeRunner({}), driverPresent: () => false, versionFile: join(tmp(), "absent") });
  expect(none).toMatchObject({ driverLoaded: false, kernelModule: null, nvidiaSmi: "missing", gpus: [] });
  expect(none.meaning).toMatch(/no NVIDIA driver.*engine auto picks onnx/);

  const msg = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.";
  const failed = detectNvidia({
    run: fakeRunner({ "nvidia-smi": { exitCode: 9, stdout: msg } }),
    driverPresent: () => true,
    versionFile: join(tmp(), "absent"),
  });
  expect(failed.nvidiaSmi).toBe("failed");
  expect(failed.nvidiaSmiError).toBe(msg);
  expect(failed.gpus).toEqual([]);
  expect(failed.meaning).toMatch(/--gpus all cannot list/);
});

// ------------------------------------------------------------ Vulkan

test("an ICD directory holding only lavapipe is software Vulkan, not a GPU", () => {
  const dir = icdDir({ "lvp_icd.x86_64.json": "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" });
  const f = detectVulkan({ run: fakeRunner({}), icdDirs: [dir, join(dir, "missing")] });
  expect(f.vulkaninfo).toBe("missing");
  expect(f.icds).toHaveLength(1);
  expect(f.icds[0]).toMatchObject({ name: "lvp_icd.x86_64", library: "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so", software: true });
  expect(f.icds[0]!.kind).toMatch(/lavapipe.*CPU/);
  expect(f.verdict).toBe("software");
  expect(f.meaning).toMatch(/WebGPU EP would run on the CPU/);
});

test("an NVIDIA ICD beside lavapipe makes a GPU Vulkan driver; no manifest at all is none", () => {
  const dir = icdDir({ "lvp_icd.x86_64.json": "libvulkan_lvp.so", "nvidia_icd.json": "libGLX_nvidia.so.0" });
  const f = detectVulkan({ run: fakeRunner({}), icdDirs: [dir] });
  expect(f.icds.map((i) => [i.name, i.software])).toEqual([
    ["lvp_icd.x86_64", true],
    ["nvidia_icd", false],
  ]);
  expect(f.icds[1]!.kind).toBe("NVIDIA GPU");
  expect(f.verdict).toBe("gpu");
  expect(f.meaning).toMatch(/WebGPU EP can reach the GPU/);

  const empty = detectVulkan({ run: fakeRunner({}), icdDirs: [icdDir({})] });
  expect(empty.verdict).toBe("none");
  expect(empty.meaning).toMatch(/no Vulkan driver/);
  // Classified by library name too, when the file's name says nothing.
  expect(classifyIcd("driver.json", "/usr/lib/libvulkan_radeon.so")).toEqual({ kind: "AMD GPU", software: false });
});

const SUMMARY = `==========
VULKANINFO
==========

Vulkan Instance Version: 1.3.275

Instance Extensions: count = 2
-------------------------------
VK_KHR_surface : extension revision 25

Devices:
========
GPU0:
	apiVersion         = 1.3.277
	driverVersion      = 550.54.14
	vendorID           = 0x10de
	deviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
	deviceName         = NVIDIA H200
	driverID           = DRIVER_ID_NVIDIA_PROPRIETARY
	driverName         = NVIDIA
GPU1:
	apiVersion         = 1.3.255
	deviceType         = PHYSICAL_DEVICE_TYPE_CPU
	deviceName         = llvmpipe (LLVM 15.0.6, 256 bits)
	driverID           = DRIVER_ID_MESA_LLVMPIPE
	driverName         = llvmpipe
`;

test("vulkaninfo --summary, when present, lists the devices the loader really finds", () => {
  expect(parseVulkaninfoSummary(SUMMARY)).toEqual([
    { name: "NVIDIA H200", type: "PHYSICAL_DEVICE_TYPE_DISCRETE_GPU", driver: "NVIDIA", software: false },
    { name: "llvmpipe (LLVM 15.0.6, 256 bits)", type: "PHYSICAL_DEVICE_TYPE_CPU", driver: "llvmpipe", software: true },
  ]);
  // vulkaninfo's answer wins over the manifests (here: only lavapipe on disk).
  const lvpOnly = icdDir({ "lvp_icd.x86_64.json": "libvulkan_lvp.so" });
  const run = fakeRunner({ vulkaninfo: { stdout: SUMMARY } });
  const f = detectVulkan({ run, icdDirs: [lvpOnly] });
  expect(run.calls).toEqual([["vulkaninfo", "--summary"]]);
  expect(f.vulkaninfo).toBe("ok");
  expect(f.verdict).toBe("gpu");

  const cpuOnly = detectVulkan({
    run: fakeRunner({ vulkaninfo: { stdout: SUMMARY.slice(0, SUMMARY.indexOf("GPU0:")) + SUMMARY.slice(SUMMARY.indexOf("GPU1:")) } }),
    icdDirs: [],
  });
  expect(cpuOnly.verdict).toBe("software");

  // A vulkaninfo that fails (no driver for the loader) is reported; the manifests decide.
  const failed = detectVulkan({ run: fakeRunner({ vulkaninfo: { exitCode: 1, stderr: "ERROR_INCOMPATIBLE_DRIVER\n" } }), icdDirs: [lvpOnly] });
  expect(failed).toMatchObject({ vulkaninfo: "failed", vulkaninfoError: "ERROR_INCOMPATIBLE_DRIVER", verdict: "software" });
});

test("the ICD search follows the loader: VK_DRIVER_FILES replaces it, else /etc and /usr/share", () => {
  expect(vulkanIcdDirs({ VK_DRIVER_FILES: "/opt/nv/nvidia_icd.json:/opt/icd.d" })).toEqual(["/opt/nv/nvidia_icd.json", "/opt/icd.d"]);
  const dirs = vulkanIcdDirs({});
  expect(dirs).toContain("/usr/share/vulkan/icd.d");
  expect(dirs).toContain("/etc/vulkan/icd.d");
  // A manifest named directly is read too.
  const dir = icdDir({ "nvidia_icd.json": "libGLX_nvidia.so.0" });
  expect(detectVulkan({ run: fakeRunner({}), icdDirs: [join(dir, "nvidia_icd.json")] }).verdict).toBe("gpu");
});

// ------------------------------------------------------------ the exit code

const good = (): DefaultPathFacts => ({
  autoEngine: { engine: "onnx", why: "no NVIDIA driver loaded" },
  step: { engine: "onnx", device: "cpu", ok: true, trainedOn: "cpu", notes: [] },
  datasets: {
    cifar10: { found: false, cacheDir: "/cache", path: null },
    fashionMnistDebian: { found: false, dir: "/usr/share/datasets/fashion-mnist" },
    embeddedSubset: { found: true, dir: "/repo/data/fashion-mnist-subset" },
    all: [],
  },
  outputs: [
    { flag: "--runs-dir", dir: "runs", writable: true },
    { flag: "--report-dir", dir: "reports", writable: true },
  ],
});

test("the default path runs (exit 0) when auto's engine trains a step, a dataset is at hand and the outputs are writable", () => {
  const v = defaultPathVerdict(good());
  expect(v).toMatchObject({ ok: true, exitCode: 0, reasons: [] });
  expect(v.checks.every((c) => c.ok)).toBe(true);
});

test("the default path cannot run (exit 1) when any one of its checks fails, and says which", () => {
  const failStep = good();
  failStep.step = { engine: "onnx", device: "cpu", ok: false, error: "cannot create session", notes: [] };
  const v = defaultPathVerdict(failStep);
  expect(v.exitCode).toBe(1);
  expect(v.ok).toBe(false);
  expect(v.reasons).toEqual([expect.stringMatching(/^engine: .*fails a training step on cpu: cannot create session/)]);

  // auto picks torch (CUDA), and torch's CUDA step was never taken.
  const untried = { ...good(), autoEngine: { engine: "torch", why: "torch sees 1 CUDA device(s)" }, step: null };
  expect(defaultPathVerdict(untried).exitCode).toBe(1);

  const noData = good();
  noData.datasets.embeddedSubset.found = false;
  expect(defaultPathVerdict(noData).reasons).toEqual([expect.stringMatching(/^data: neither CIFAR-10/)]);
  // ... while a cached CIFAR-10 is enough on its own.
  noData.datasets.cifar10 = { found: true, cacheDir: "/cache", path: "/cache/cifar-10-batches-bin" };
  expect(defaultPathVerdict(noData).exitCode).toBe(0);

  const readOnly = good();
  readOnly.outputs[1] = { flag: "--report-dir", dir: "reports", writable: false, why: "EROFS" };
  expect(defaultPathVerdict(readOnly)).toMatchObject({ exitCode: 1, reasons: ["--report-dir: reports not writable (EROFS)"] });
});

test("output directories are checked without being created: the nearest existing folder decides", () => {
  const base = tmp();
  expect(outputDirFacts("--runs-dir", join(base, "a", "b", "runs"))).toMatchObject({ writable: true });
  const file = join(base, "file");
  writeFileSync(file, "");
  const blocked = outputDirFacts("--runs-dir", join(file, "runs"));
  expect(blocked.writable).toBe(false);
  expect(blocked.why).toMatch(/file in the way/);
});

// ------------------------------------------------------------ the CUDA execution provider

const cudaFacts = (over: Partial<CudaEpFacts> = {}): CudaEpFacts => ({
  install: { binDir: "/repo/node_modules/onnxruntime-node/bin/napi-v6/linux/x64", installed: false, ortVersion: "1.29.0" },
  missing: [],
  ldLibraryPath: null,
  ...over,
});

test("doctor says whether the CUDA EP's provider libraries are installed, and the command that installs them", () => {
  const none = renderCudaEp(cudaFacts());
  expect(none[0]).toMatch(/^ {2}-- {4}CUDA EP provider libraries not installed in \/repo\/.*: run `bun run setup:cuda-ep`/);
  expect(none[1]).toMatch(/^ {2}ok {4}CUDA EP runtime libraries .*: all found$/);
  const installed = renderCudaEp(
    cudaFacts({
      install: {
        binDir: "/b",
        installed: true,
        ortVersion: "1.29.0",
        marker: { package: "com.github.asus4.onnxruntime.linux-x64-gpu", version: "0.4.9", ort: "1.29.0", integrity: "sha512-x", installed: "2026-12-06" },
      },
    }),
  );
  expect(installed[0]).toBe("  ok    CUDA EP provider libraries installed in /b (com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9, ONNX Runtime 1.29.0)");
  const mismatch = renderCudaEp(
    cudaFacts({ install: { binDir: "/b", installed: true, mismatch: "built for ONNX Runtime 1.29.0 but onnxruntime-node is 1.30.0" } }),
  );
  expect(mismatch[0]).toMatch(/^ {2}-- {4}CUDA EP provider libraries: built for ONNX Runtime 1\.29\.0 but onnxruntime-node is 1\.30\.0/);
});

test("doctor lists each CUDA / cuDNN library the loader would miss with its fix, and one LD_LIBRARY_PATH line for those pip already has", () => {
  const pip = join(tmp(), "nvidia", "cu13", "lib");
  mkdirSync(pip, { recursive: true });
  writeFileSync(join(pip, "libcublasLt.so.13"), "");
  const missing = missingCudaLibraries({ env: {}, ldconfig: () => "", pipLibDirs: () => [pip], systemDirs: [] });
  const lines = renderCudaEp(cudaFacts({ missing, ldLibraryPath: `export LD_LIBRARY_PATH=${pip}` }));
  expect(lines).toContain(`  --    libcublasLt.so.13 (CUDA 13 cuBLASLt) not found: found in ${pip} (pip): add that folder to LD_LIBRARY_PATH`);
  expect(lines).toContain(
    "  --    libcudnn.so.9 (cuDNN 9) not found: pip install nvidia-cudnn-cu13, then put its site-packages/nvidia/*/lib folder on LD_LIBRARY_PATH",
  );
  expect(lines.find((l) => l.includes("libcuda.so.1"))).toMatch(/NVIDIA driver/);
  expect(lines.at(-1)).toBe(`        -> export LD_LIBRARY_PATH=${pip}`);
  // Nothing found anywhere: the hint names the usual source of all but the driver.
  const bare = renderCudaEp(cudaFacts({ missing: missingCudaLibraries({ env: {}, ldconfig: () => "", pipLibDirs: () => [], systemDirs: [] }) }));
  expect(bare.at(-1)).toMatch(/CUDA 13 PyTorch \(pip\) brings all but the driver/);
});
