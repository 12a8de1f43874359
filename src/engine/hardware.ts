/**
 * GPU hardware this machine offers the engines, found without loading any of them:
 * NVIDIA GPUs (kernel driver, nvidia-smi) for the torch engine's CUDA path and the
 * ONNX CUDA EP, and Vulkan drivers (vulkaninfo, else the loader's ICD manifests) for
 * the ONNX WebGPU EP. Commands and directories are injectable, so every branch is
 * testable on a machine without a GPU. A missing tool is a finding ("missing"), never
 * an error.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { nvidiaDriverPresent } from "./torch/detect.ts";

export interface CommandResult {
  /** False when the executable is not on PATH. */
  found: boolean;
  /** Null when it was killed (timeout) or never started. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv and waits at most timeoutMs; never throws. */
export type CommandRunner = (argv: string[], timeoutMs: number) => CommandResult;

export const runCommand: CommandRunner = (argv, timeoutMs) => {
  try {
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", timeout: timeoutMs });
    const stderr = r.stderr.toString() + (r.exitedDueToTimeout ? `(no answer within ${timeoutMs / 1000} s; killed)` : "");
    return { found: true, exitCode: r.exitCode, stdout: r.stdout.toString(), stderr };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return { found: false, exitCode: null, stdout: "", stderr: "" };
    return { found: true, exitCode: null, stdout: "", stderr: err.message.split("\n")[0] ?? String(e) };
  }
};

const TIMEOUT_MS = 15_000;

/** The last non-empty line of a failed command's output, for one line of report. */
function failure(r: CommandResult): string {
  const text = `${r.stderr}\n${r.stdout}`.trim();
  const line =
    text
      .split("\n")
      .filter((l) => l.trim())
      .at(-1) ?? "";
  return (line.trim() || `exit ${r.exitCode}`).slice(0, 200);
}

// ---------------------------------------------------------------- NVIDIA

export interface NvidiaGpu {
  index: number;
  name: string;
  /** As nvidia-smi prints it, e.g. "143771 MiB". */
  memory: string;
  driver: string;
  /** Default, Exclusive_Process or Prohibited: with Exclusive_Process only one process (or the MPS server) may use the GPU. */
  computeMode: string;
}

export interface NvidiaFacts {
  /** The kernel driver is loaded (/proc/driver/nvidia or /dev/nvidiaN). */
  driverLoaded: boolean;
  /** The kernel module's version, from /proc/driver/nvidia/version. */
  kernelModule: string | null;
  nvidiaSmi: "missing" | "ok" | "failed";
  /** Why nvidia-smi failed, when it did. */
  nvidiaSmiError?: string;
  gpus: NvidiaGpu[];
  /** Whether the CUDA MPS control daemon runs (nvidia-cuda-mps-control): processes then share a GPU through one server. */
  mps: boolean;
  /** What this means for the harness, in one sentence. */
  meaning: string;
}

export const NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,compute_mode", "--format=csv,noheader"];
export const MPS_QUERY = ["pgrep", "-x", "nvidia-cuda-mps-control"];

/** Lines of `nvidia-smi --query-gpu=name,memory.total,driver_version,compute_mode --format=csv,noheader`. */
export function parseNvidiaSmiCsv(text: string): NvidiaGpu[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, index) => {
      // A GPU name holds no comma; split from the right all the same.
      const parts = line.split(",").map((p) => p.trim());
      const computeMode = parts.pop() ?? "";
      const driver = parts.pop() ?? "";
      const memory = parts.pop() ?? "";
      return { index, name: parts.join(", "), memory, driver, computeMode };
    });
}

/** "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 ..." -> "550.54.14". */
export function parseNvidiaKernelVersion(text: string): string | null {
  return /Kernel Module(?:\s+for\s+\S+)?\s+([0-9][0-9.]*)/.exec(text)?.[1] ?? null;
}

export interface NvidiaProbeOptions {
  run?: CommandRunner;
  driverPresent?: () => boolean;
  /** /proc/driver/nvidia/version, or a fake one. */
  versionFile?: string;
}

export function detectNvidia(o: NvidiaProbeOptions = {}): NvidiaFacts {
  const run = o.run ?? runCommand;
  const driverLoaded = (o.driverPresent ?? nvidiaDriverPresent)();
  const versionFile = o.versionFile ?? "/proc/driver/nvidia/version";
  let kernelModule: string | null = null;
  try {
    if (existsSync(versionFile)) kernelModule = parseNvidiaKernelVersion(readFileSync(versionFile, "utf8"));
  } catch {
    // unreadable: reported as unknown
  }
  const r = run(NVIDIA_SMI_QUERY, TIMEOUT_MS);
  const mps = run(MPS_QUERY, TIMEOUT_MS);
  const facts: NvidiaFacts = { driverLoaded, kernelModule, nvidiaSmi: "missing", gpus: [], mps: mps.found && mps.exitCode === 0, meaning: "" };
  if (r.found && r.exitCode === 0) {
    facts.nvidiaSmi = "ok";
    facts.gpus = parseNvidiaSmiCsv(r.stdout);
  } else if (r.found) {
    facts.nvidiaSmi = "failed";
    facts.nvidiaSmiError = failure(r);
  }
  facts.meaning = nvidiaMeaning(facts);
  return facts;
}

function nvidiaMeaning(f: NvidiaFacts): string {
  if (!f.driverLoaded)
    return f.gpus.length
      ? "nvidia-smi lists GPUs but no NVIDIA kernel driver is visible here (/proc/driver/nvidia, /dev/nvidiaN): engine auto treats this as a CPU machine (onnx, or torch where a measured probe finds it faster); CUDA may still work for the torch engine if torch sees the GPU (see PyTorch)"
      : "no NVIDIA driver: no CUDA here, so the torch engine trains on the CPU only; engine auto picks onnx (the ONNX CPU EP), or torch for a model where a measured probe finds it faster (engine.autoProbe)";
  const cuda =
    "the NVIDIA driver is loaded: the torch engine can train on CUDA (engine auto's pick) once a Python with CUDA-enabled torch is found (see PyTorch); the ONNX CUDA EP also needs CUDA 12 + cuDNN 9 and its binaries";
  if (f.nvidiaSmi === "ok") return f.gpus.length ? cuda + sharingMeaning(f) : `${cuda}; but nvidia-smi lists no GPU`;
  return `${cuda}; nvidia-smi ${f.nvidiaSmi === "missing" ? "is not installed" : "failed"}, so --gpus all cannot list the GPUs (name them: --gpus 0,1)`;
}

/** What the GPUs' compute modes and MPS mean for --jobs-per-gpu (several workers on one GPU). */
function sharingMeaning(f: NvidiaFacts): string {
  const exclusive = f.gpus.filter((g) => /exclusive/i.test(g.computeMode)).map((g) => g.index);
  const prohibited = f.gpus.filter((g) => /prohibited/i.test(g.computeMode)).map((g) => g.index);
  const parts: string[] = [];
  if (prohibited.length) parts.push(`GPU ${prohibited.join(", ")} in compute mode Prohibited: no process may use it`);
  if (exclusive.length)
    parts.push(
      f.mps
        ? `GPU ${exclusive.join(", ")} in exclusive-process mode, shared through the running MPS daemon: --jobs-per-gpu above 1 works`
        : `GPU ${exclusive.join(", ")} in exclusive-process mode and no MPS daemon: only one process per GPU, so keep --jobs-per-gpu 1 (or start MPS: nvidia-cuda-mps-control -d)`,
    );
  else parts.push(`compute mode Default${f.mps ? ", MPS daemon running" : ", no MPS daemon"}: --jobs-per-gpu above 1 shares each GPU`);
  return `; ${parts.join("; ")}`;
}

// ---------------------------------------------------------------- Vulkan

export interface VulkanDevice {
  name: string;
  /** e.g. PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, PHYSICAL_DEVICE_TYPE_CPU. */
  type: string;
  driver: string;
  /** A CPU emulation (lavapipe/llvmpipe, SwiftShader), not a GPU. */
  software: boolean;
}

export interface VulkanIcd {
  /** The manifest's name without .json, e.g. nvidia_icd, lvp_icd.x86_64. */
  name: string;
  file: string;
  /** The driver library the manifest points at, when it could be read. */
  library: string | null;
  /** What the driver is, in words: "NVIDIA GPU", "lavapipe (software: Vulkan on the CPU)", ... */
  kind: string;
  software: boolean;
}

export interface VulkanFacts {
  vulkaninfo: "missing" | "ok" | "failed";
  vulkaninfoError?: string;
  /** Devices vulkaninfo --summary listed (empty unless it ran). */
  devices: VulkanDevice[];
  /** Where ICD manifests were looked for (the loader's search path). */
  icdDirs: string[];
  icds: VulkanIcd[];
  /** gpu: a hardware Vulkan driver; software: only CPU emulations; none: no driver at all. */
  verdict: "gpu" | "software" | "none";
  meaning: string;
}

/** Blocks `GPU0:` ... of `vulkaninfo --summary` (key = value lines). */
export function parseVulkaninfoSummary(text: string): VulkanDevice[] {
  const devices: Record<string, string>[] = [];
  let current: Record<string, string> | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (/^GPU\d+:?$/.test(line)) {
      current = {};
      devices.push(current);
      continue;
    }
    // A new section (=====, "Instance Extensions:" ...) ends the device block.
    if (!line || /^[=-]+$/.test(line) || (!line.includes("=") && line.endsWith(":"))) {
      if (line && !/^[=-]+$/.test(line)) current = null;
      continue;
    }
    const m = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (current && m) current[m[1]!] = m[2]!.trim();
  }
  return devices
    .filter((d) => d.deviceName)
    .map((d) => {
      const type = d.deviceType ?? "unknown";
      const driver = d.driverName ?? d.driverID ?? "unknown";
      return { name: d.deviceName!, type, driver, software: type.includes("CPU") || isSoftwareName(`${d.deviceName} ${driver}`) };
    });
}

const isSoftwareName = (s: string) => /lvp|lavapipe|llvmpipe|swiftshader|softpipe/i.test(s);

/** What an ICD manifest's driver is, from its file name and library path. */
export function classifyIcd(fileName: string, library: string | null = null): { kind: string; software: boolean } {
  const s = `${basename(fileName)} ${library ? basename(library) : ""}`.toLowerCase();
  if (/lvp|lavapipe/.test(s)) return { kind: "lavapipe (software: Vulkan emulated on the CPU, not a GPU)", software: true };
  if (/swiftshader/.test(s)) return { kind: "SwiftShader (software: Vulkan emulated on the CPU, not a GPU)", software: true };
  if (/nvidia/.test(s)) return { kind: "NVIDIA GPU", software: false };
  if (/nouveau/.test(s)) return { kind: "NVIDIA GPU (Mesa nouveau/NVK)", software: false };
  if (/radeon|amd/.test(s)) return { kind: "AMD GPU", software: false };
  if (/intel|anv|hasvk/.test(s)) return { kind: "Intel GPU", software: false };
  if (/virtio|gfxstream/.test(s)) return { kind: "virtual GPU (virtio)", software: false };
  if (/dzn/.test(s)) return { kind: "Direct3D 12 GPU (WSL)", software: false };
  if (/broadcom|freedreno|panfrost|asahi|powervr|imagination/.test(s)) return { kind: "GPU (Mesa)", software: false };
  return { kind: "unknown driver", software: false };
}

/**
 * Where the Vulkan loader looks for ICD manifests: the files or directories in
 * VK_DRIVER_FILES / VK_ICD_FILENAMES when set (they replace the search), else the
 * standard directories under XDG_CONFIG_DIRS, /etc, XDG_DATA_DIRS and /usr/share.
 */
export function vulkanIcdDirs(env: Record<string, string | undefined> = process.env): string[] {
  const override = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (override) return override.split(":").filter(Boolean);
  const config = (env.XDG_CONFIG_DIRS ?? "/etc/xdg").split(":").filter(Boolean);
  const data = (env.XDG_DATA_DIRS ?? "/usr/local/share:/usr/share").split(":").filter(Boolean);
  const dirs = [...config, "/usr/local/etc", "/etc", ...data, "/usr/local/share", "/usr/share"].map((d) => join(d, "vulkan", "icd.d"));
  return [...new Set(dirs)];
}

/** The ICD manifests (*.json) in these directories (or these files), sorted by name. */
export function listIcds(dirsOrFiles: string[]): VulkanIcd[] {
  const files: string[] = [];
  for (const p of dirsOrFiles) {
    try {
      if (p.endsWith(".json")) {
        if (existsSync(p)) files.push(p);
      } else if (existsSync(p)) {
        for (const f of readdirSync(p).sort()) if (f.endsWith(".json")) files.push(join(p, f));
      }
    } catch {
      // unreadable directory: nothing the loader could use either
    }
  }
  return [...new Set(files)].map((file) => {
    let library: string | null = null;
    try {
      const j = JSON.parse(readFileSync(file, "utf8")) as { ICD?: { library_path?: unknown } };
      if (typeof j.ICD?.library_path === "string") library = j.ICD.library_path;
    } catch {
      // a manifest the loader cannot parse either; named all the same
    }
    return { name: basename(file, ".json"), file, library, ...classifyIcd(file, library) };
  });
}

export interface VulkanProbeOptions {
  run?: CommandRunner;
  /** Defaults to vulkanIcdDirs(). */
  icdDirs?: string[];
}

export function detectVulkan(o: VulkanProbeOptions = {}): VulkanFacts {
  const run = o.run ?? runCommand;
  const icdDirs = o.icdDirs ?? vulkanIcdDirs();
  const facts: VulkanFacts = { vulkaninfo: "missing", devices: [], icdDirs, icds: listIcds(icdDirs), verdict: "none", meaning: "" };
  const r = run(["vulkaninfo", "--summary"], TIMEOUT_MS);
  if (r.found && r.exitCode === 0) {
    facts.vulkaninfo = "ok";
    facts.devices = parseVulkaninfoSummary(r.stdout);
  } else if (r.found) {
    facts.vulkaninfo = "failed";
    facts.vulkaninfoError = failure(r);
  }
  // vulkaninfo, when it lists devices, is the loader's own answer; else the manifests say what it would find.
  const drivers = facts.devices.length ? facts.devices : facts.icds;
  facts.verdict = drivers.some((d) => !d.software) ? "gpu" : drivers.length ? "software" : "none";
  facts.meaning = vulkanMeaning(facts);
  return facts;
}

function vulkanMeaning(f: VulkanFacts): string {
  switch (f.verdict) {
    case "gpu":
      return "a GPU Vulkan driver: the ONNX WebGPU EP can reach the GPU (it also needs the Vulkan loader libvulkan1 and glvnd), and is checked against the CPU before it trains";
    case "software":
      return "only a software Vulkan driver (a CPU emulation such as lavapipe): the ONNX WebGPU EP would run on the CPU, not a GPU, slower than the CPU EP";
    case "none":
      return "no Vulkan driver: the ONNX WebGPU EP has no device (it needs the GPU vendor's Vulkan driver); training uses the CPU EP or torch";
  }
}

export interface HardwareFacts {
  nvidia: NvidiaFacts;
  vulkan: VulkanFacts;
}

export function detectHardware(o: NvidiaProbeOptions & VulkanProbeOptions = {}): HardwareFacts {
  return { nvidia: detectNvidia(o), vulkan: detectVulkan(o) };
}
