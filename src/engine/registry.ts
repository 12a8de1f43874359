import { ConfigError, validateConfig } from "../config/load.ts";
import { DeviceError, gpuRequirement } from "./device-error.ts";
import type { EngineConfig, TrainingConfig } from "../config/generated/training.ts";
import { OnnxTrainer } from "./onnx/onnx-trainer.ts";
import { trainerPrecision, verifiedTrainer } from "./provider-check.ts";
import { providerFailures, type ProviderChoice } from "./onnx/providers.ts";
import { TfjsTrainer } from "./tfjs/tfjs-trainer.ts";
import { nvidiaDriverPresent, probeTorch } from "./torch/detect.ts";
import { AUTO_PROBE_ENV, autoProbeOff, measuredAutoPick, type AutoProbeSettings } from "./auto-probe.ts";
import { TorchTrainer } from "./torch/torch-trainer.ts";
import { TorchPack } from "./torch/torch-pack.ts";
import { LoopPack } from "./loop-pack.ts";
import { OnnxGraphPack } from "./onnx/onnx-graph-pack.ts";
import type { EngineName, ModelState, PackMember, PackTrainer, Trainer, TrainerOptions } from "./types.ts";

export interface EngineChoice {
  /** "auto": torch on CUDA where an NVIDIA driver and CUDA-enabled torch are present, else the faster CPU engine measured (resolveAutoEngine). */
  engine: EngineName | "auto";
  /** ONNX Runtime execution provider ("auto" tries cuda, webgpu, then cpu). */
  provider?: ProviderChoice;
  /** TensorFlow.js backend: "auto" uses a native binding when one loads. */
  tfjsBackend?: "auto" | "cpu";
  /** torch engine: auto, cpu, cuda or cuda:N. */
  device?: string;
  /** torch engine: the interpreter, or "auto" (detect.ts). */
  python?: string;
  log?: (line: string) => void;
  /**
   * How a non-CPU execution provider proves itself before training (provider-check.ts),
   * a tolerance per precision; default: the schema's engine.providerCheck.
   */
  check?: EngineConfig["providerCheck"];
  /** Absent: the schema's engine defaults. Only the torch engine computes in more than fp32. */
  precision?: EngineConfig["precision"];
  /** torch engine on CUDA: full-size training batches as a captured CUDA graph. */
  cudaGraphs?: boolean;
  /** torch engine on CUDA: NHWC activations and conv weights. */
  channelsLast?: boolean;
  /** torch engine on CUDA: deterministic cuDNN algorithms (what bit-identical resume there needs). */
  cudnnDeterministic?: boolean;
  /** torch engine: training steps per request to the Python process. */
  stepsPerRequest?: number;
  /** How a pack computes (createPack); default: the schema's engine.packFormulation. */
  packFormulation?: EngineConfig["packFormulation"];
  /** engine auto on the CPU: the batch size its probe measures at (a training config's optim.batchSize); absent, auto does not measure. */
  batchSize?: number;
  /** engine auto on the CPU: how it measures (engine.autoProbe); absent, it does not. */
  autoProbe?: AutoProbeSettings;
  /** Set by engine auto on the trainer it picked: which engine and why, for the unit's record. */
  autoPick?: string;
}

/** The EngineChoice fields a config's engine settings give beyond name, provider, device, python and the check. */
export function engineSettings(
  e: EngineConfig,
): Required<Pick<EngineChoice, "precision" | "cudaGraphs" | "channelsLast" | "cudnnDeterministic" | "stepsPerRequest" | "packFormulation">> {
  return {
    precision: e.precision,
    cudaGraphs: e.cudaGraphs,
    channelsLast: e.channelsLast,
    cudnnDeterministic: e.cudnnDeterministic,
    stepsPerRequest: e.stepsPerRequest,
    packFormulation: e.packFormulation,
  };
}

/** What a unit's record keeps about each trainer its process made. */
export interface TrainerFacts {
  engine: EngineName;
  provider: string;
  /** fp32 for the ONNX and TF.js engines; the torch server's effective engine.precision. */
  precision: string;
  /**
   * Same inputs, same bits: CPU kernels with fixed threads, and the torch engine on CUDA
   * with cudnnDeterministic (the server says); not other cuDNN runs or GPU EPs.
   */
  deterministic: boolean;
  /** torch engine: the CUDA settings the server applied (all off on the CPU). */
  cudaGraphs?: boolean;
  channelsLast?: boolean;
  cudnnDeterministic?: boolean;
  /** Engine or provider auto tried a GPU and trains on the CPU instead: what and why. */
  fallback?: string;
  /** engine auto chose this engine: which and why. */
  autoPick?: string;
  /** torch engine: versions, interpreter and GPU. */
  torch?: { version: string; python: string; gpu: string | null; cudnn: number | null };
}

const facts: TrainerFacts[] = [];

/** Every trainer this process created, for the records of the units it trains. */
export function trainerFacts(): TrainerFacts[] {
  return [...facts];
}

function remember(t: Trainer, fallback?: string, autoPick?: string): Trainer {
  const f: TrainerFacts = {
    engine: t.engine,
    provider: t.provider,
    precision: trainerPrecision(t),
    deterministic: t.provider === "cpu" || t.provider === "tfjs-cpu",
    ...(autoPick ? { autoPick } : {}),
    ...(fallback ? { fallback } : {}),
  };
  if (t instanceof TorchTrainer) {
    f.deterministic = t.info.deterministic;
    f.cudaGraphs = t.info.cudaGraphs;
    f.channelsLast = t.info.channelsLast;
    f.cudnnDeterministic = t.info.cudnnDeterministic;
    f.torch = { version: t.info.torch, python: t.info.python, gpu: t.info.gpu, cudnn: t.info.cudnn };
  }
  if (!facts.some((x) => JSON.stringify(x) === JSON.stringify(f))) facts.push(f);
  return t;
}

/** The schema's engine defaults, for callers that build trainers without a training config. */
let defaults: EngineConfig | null = null;
const engineDefaults = () => (defaults ??= validateConfig<TrainingConfig>("training", {}).engine);

/**
 * engine.precision beyond fp32 on an engine that computes in fp32 only: a settings error,
 * since quietly training in fp32 would give a run other numbers than its config asked for.
 */
function fp32Only(choice: EngineChoice, engine: "onnx" | "tfjs", autoWhy?: string): void {
  const precision = choice.precision ?? engineDefaults().precision;
  if (precision === "fp32") return;
  const picked = autoWhy ? `engine auto picked ${engine} here (${autoWhy}), and ` : "";
  throw new ConfigError(
    `engine.precision=${precision}: ${picked}the ONNX and TF.js engines compute in fp32 only; use engine.name=torch (PyTorch) or engine.precision=fp32`,
  );
}

/**
 * engine=auto's pick. With an NVIDIA driver: torch where it sees a CUDA device, else onnx
 * (Python is probed only then). Without one: the faster of onnx and torch on the CPU for
 * the trainer `o` would build at the choice's batch size, measured once per machine
 * (auto-probe.ts), when torch is installed and the probe is on; else onnx.
 */
export async function resolveAutoEngine(choice: EngineChoice, o?: TrainerOptions): Promise<{ engine: EngineName; why: string }> {
  if (!nvidiaDriverPresent()) {
    const settings = choice.autoProbe;
    if (!o || !settings || choice.batchSize === undefined) return { engine: "onnx", why: "no NVIDIA driver loaded" };
    if (autoProbeOff(settings))
      return { engine: "onnx", why: `no NVIDIA driver loaded; the CPU engines are not measured (engine.autoProbe.enabled=false or ${AUTO_PROBE_ENV}=off)` };
    const probe = await probeTorch(choice.python ?? "auto");
    if ("missing" in probe) return { engine: "onnx", why: `no NVIDIA driver loaded, and ${probe.missing}` };
    const python = probe.found.python;
    const cpu = { ...o, takesTurns: false };
    const r = await measuredAutoPick({
      spec: o.spec,
      batchSize: choice.batchSize,
      threads: o.threads ?? 0,
      settings,
      torch: { version: probe.found.torch, python },
      make: {
        onnx: (s) => OnnxTrainer.create({ ...cpu, provider: "cpu", log: choice.log }, s),
        torch: (s) => TorchTrainer.create({ ...cpu, ...torchSettings(choice), precision: "fp32", python, device: "cpu" }, s),
      },
      log: choice.log,
    });
    return { engine: r.engine, why: `no NVIDIA driver loaded; ${r.why}` };
  }
  if (choice.device === "cpu") return { engine: "onnx", why: "engine.device=cpu" };
  const probe = await probeTorch(choice.python ?? "auto");
  if ("missing" in probe) return { engine: "onnx", why: probe.missing };
  if (!probe.found.cuda) return { engine: "onnx", why: `torch ${probe.found.torch} (${probe.found.python}) sees no CUDA device` };
  return { engine: "torch", why: `torch ${probe.found.torch} (${probe.found.python}) sees ${probe.found.devices} CUDA device(s)` };
}

/** A trainer left on the CPU when `required` asked for a GPU: a DeviceError saying why, else the trainer. */
function onGpuOr(required: string | null, t: Trainer, why: () => string): Trainer {
  if (!required || t.provider !== "cpu") return t;
  void t.dispose();
  throw new DeviceError(
    `${required}: a GPU was asked for, but the ${t.engine} engine can only train on the CPU here (${why()}); \`bun run doctor\` says what is missing`,
  );
}

/** The one place that maps an engine name to a trainer. */
export async function createTrainer(choice: EngineChoice, o: TrainerOptions, state: ModelState): Promise<Trainer> {
  const required = gpuRequirement({ engine: choice.engine, provider: choice.provider, device: choice.device });
  switch (choice.engine) {
    case "auto": {
      const picked = await resolveAutoEngine(choice, o);
      choice.log?.(`notice: engine auto picked ${picked.engine}: ${picked.why}`);
      if (required && picked.engine !== "torch" && (choice.provider ?? "auto") === "auto" && !nvidiaDriverPresent())
        throw new DeviceError(`${required}: a GPU was asked for, but engine auto finds none here (${picked.why}); leave ${required} out to train on the CPU`);
      if (picked.engine !== "torch") fp32Only(choice, picked.engine, picked.why);
      return createTrainer({ ...choice, engine: picked.engine, autoPick: `${picked.engine}: ${picked.why}` }, o, state);
    }
    case "onnx": {
      fp32Only(choice, "onnx");
      const candidate = await OnnxTrainer.create({ ...o, provider: choice.provider ?? "cpu", log: choice.log }, state);
      onGpuOr(required, candidate, () => providerFailures(choice.provider) || "no GPU execution provider loaded");
      const v = await verifiedTrainer(candidate, (s) => OnnxTrainer.create({ ...o, provider: "cpu", log: choice.log }, s), {
        ...(choice.check ?? engineDefaults().providerCheck),
        log: choice.log,
        required,
      });
      return remember(v.trainer, v.fallback, choice.autoPick);
    }
    case "tfjs":
      fp32Only(choice, "tfjs");
      return remember(await TfjsTrainer.create({ ...o, backend: choice.tfjsBackend ?? "auto" }, state), undefined, choice.autoPick);
    case "torch": {
      const probe = await probeTorch(choice.python ?? "auto");
      // No torch fails the same way on every attempt: a settings error, not retried.
      if ("missing" in probe) throw new ConfigError(`engine torch: ${probe.missing}`);
      const settings = torchSettings(choice);
      const make = (device: string, s: ModelState, precision = settings.precision) =>
        TorchTrainer.create({ ...o, ...settings, precision, python: probe.found.python, device }, s);
      let candidate: Trainer;
      try {
        candidate = await make(choice.device ?? "auto", state);
      } catch (e) {
        if (required) throw new DeviceError(`${required}: the torch engine could not start on it (${(e as Error).message.split("\n")[0]})`);
        throw e;
      }
      onGpuOr(required, candidate, () => `torch ${probe.found.torch} (${probe.found.python}) sees no CUDA device`);
      // A GPU proves itself against torch on the CPU in strict fp32 (the tolerance is set for that
      // comparison), as an ONNX execution provider does against the CPU EP.
      const v = await verifiedTrainer(candidate, (s) => make("cpu", s, "fp32"), {
        ...(choice.check ?? engineDefaults().providerCheck),
        log: choice.log,
        required,
      });
      return remember(v.trainer, v.fallback, choice.autoPick);
    }
    default:
      throw new ConfigError(`unknown engine "${String(choice.engine)}"; known: auto, onnx, tfjs, torch`);
  }
}

/**
 * A pack of these members (src/train/pack-loop.ts), computed as choice.packFormulation
 * says: "grouped" is one computation of K models (torch: one grouped model on the
 * device a single trainer would get, after that trainer's provider check where a GPU
 * may be asked for; onnx: K graph copies in one session); "loop" steps one trainer per
 * member in turn (LoopPack); "auto" is grouped for torch and loop elsewhere, as
 * bench:train measured (one ONNX session of K models was not faster on the CPU).
 */
export async function createPack(choice: EngineChoice, o: TrainerOptions, members: PackMember[]): Promise<PackTrainer> {
  let engine: EngineName;
  if (choice.engine === "auto") {
    const picked = await resolveAutoEngine(choice, o);
    choice.log?.(`notice: engine auto picked ${picked.engine} for a pack: ${picked.why}`);
    engine = picked.engine;
    choice = { ...choice, autoPick: `${picked.engine}: ${picked.why}` };
  } else engine = choice.engine;
  const grouped = packFormulation(engine, choice.packFormulation ?? engineDefaults().packFormulation) === "grouped";
  // A pack's sessions take turns in this process (and a bench holds several packs at once).
  o = { ...o, takesTurns: true };
  if (grouped && engine === "torch") return torchPack({ ...choice, engine }, o, members);
  if (grouped && engine === "onnx") {
    fp32Only(choice, "onnx");
    const p = await OnnxGraphPack.create({ ...o, provider: choice.provider ?? "cpu", log: choice.log }, members);
    if (p.provider !== "cpu" || gpuRequirement({ engine: choice.engine, provider: choice.provider, device: choice.device })) {
      // The provider check proves single trainers; a one-graph pack on a GPU EP has none.
      await p.dispose();
      throw new ConfigError(`engine.packFormulation=grouped: the ONNX engine's one-graph pack runs on the CPU EP only; use engine.packFormulation=loop`);
    }
    return p;
  }
  if (grouped) throw new ConfigError(`engine.packFormulation=grouped: the ${engine} engine packs by looping only; use engine.packFormulation=loop or auto`);
  const trainers: Trainer[] = [];
  try {
    for (const m of members) {
      const t = await createTrainer({ ...choice, engine }, o, m.state);
      for (const [name, mask] of Object.entries(m.masks)) t.masks[name] = mask;
      trainers.push(t);
    }
  } catch (e) {
    for (const t of trainers) await t.dispose();
    throw e;
  }
  return new LoopPack(trainers);
}

/** engine.packFormulation as an engine applies it: auto is grouped on torch, loop elsewhere. */
export function packFormulation(engine: EngineName, asked: EngineConfig["packFormulation"]): "grouped" | "loop" {
  return asked === "auto" ? (engine === "torch" ? "grouped" : "loop") : asked;
}

/** The torch engine's grouped pack on the device (and precision) one trainer of `choice` would get. */
async function torchPack(choice: EngineChoice, o: TrainerOptions, members: PackMember[]): Promise<PackTrainer> {
  // Where a GPU may be asked for, one ordinary trainer settles the device (and proves a GPU
  // against the CPU) the way every unit's does.
  let device = "cpu";
  if (choice.device !== "cpu" && (nvidiaDriverPresent() || (choice.device ?? "auto") !== "auto")) {
    const probe = await createTrainer(choice, o, members[0]!.state);
    device = probe.provider;
    await probe.dispose();
  }
  const found = await probeTorch(choice.python ?? "auto");
  if ("missing" in found) throw new ConfigError(`engine torch: ${found.missing}`);
  return TorchPack.create({ ...o, ...torchSettings(choice), python: found.found.python, device }, members);
}

/** The torch engine's settings of a choice, the schema's defaults where it has none. */
function torchSettings(
  choice: EngineChoice,
): Required<Pick<EngineChoice, "precision" | "cudaGraphs" | "channelsLast" | "cudnnDeterministic" | "stepsPerRequest">> {
  const d = engineDefaults();
  return {
    precision: choice.precision ?? d.precision,
    cudaGraphs: choice.cudaGraphs ?? d.cudaGraphs,
    channelsLast: choice.channelsLast ?? d.channelsLast,
    cudnnDeterministic: choice.cudnnDeterministic ?? d.cudnnDeterministic,
    stepsPerRequest: choice.stepsPerRequest ?? d.stepsPerRequest,
  };
}
