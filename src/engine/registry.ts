import { ConfigError, validateConfig } from "../config/load.ts";
import { DeviceError, gpuRequirement } from "./device-error.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { OnnxTrainer } from "./onnx/onnx-trainer.ts";
import { verifiedTrainer } from "./provider-check.ts";
import { providerFailures, type ProviderChoice } from "./onnx/providers.ts";
import { TfjsTrainer } from "./tfjs/tfjs-trainer.ts";
import { nvidiaDriverPresent, probeTorch } from "./torch/detect.ts";
import { TorchTrainer } from "./torch/torch-trainer.ts";
import type { EngineName, ModelState, Trainer, TrainerOptions } from "./types.ts";

export interface EngineChoice {
  /** "auto": torch on CUDA where an NVIDIA driver and CUDA-enabled torch are present, else onnx. */
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
   * How a non-CPU execution provider proves itself before training (provider-check.ts);
   * default: the schema's engine.providerCheck.
   */
  check?: { tolerance: number; batchSize: number };
}

/** What a unit's record keeps about each trainer its process made. */
export interface TrainerFacts {
  engine: EngineName;
  provider: string;
  /** Same inputs, same bits: CPU kernels with fixed threads; not cuDNN or GPU EPs. */
  deterministic: boolean;
  /** Engine or provider auto tried a GPU and trains on the CPU instead: what and why. */
  fallback?: string;
  /** torch engine: versions, interpreter and GPU. */
  torch?: { version: string; python: string; gpu: string | null; cudnn: number | null };
}

const facts: TrainerFacts[] = [];

/** Every trainer this process created, for the records of the units it trains. */
export function trainerFacts(): TrainerFacts[] {
  return [...facts];
}

function remember(t: Trainer, fallback?: string): Trainer {
  const f: TrainerFacts = {
    engine: t.engine,
    provider: t.provider,
    deterministic: t.provider === "cpu" || t.provider === "tfjs-cpu",
    ...(fallback ? { fallback } : {}),
  };
  if (t instanceof TorchTrainer) {
    f.deterministic = t.info.deterministic;
    f.torch = { version: t.info.torch, python: t.info.python, gpu: t.info.gpu, cudnn: t.info.cudnn };
  }
  if (!facts.some((x) => JSON.stringify(x) === JSON.stringify(f))) facts.push(f);
  return t;
}

/** The schema's defaults (engine.providerCheck), for callers that build trainers without a training config. */
const defaultCheck = () => validateConfig<TrainingConfig>("training", {}).engine.providerCheck;

/**
 * engine=auto's pick: torch only where it would run on a GPU (the ONNX engine's CPU EP
 * is the tested default elsewhere), probing Python only when an NVIDIA driver is loaded.
 */
export async function resolveAutoEngine(choice: EngineChoice): Promise<{ engine: EngineName; why: string }> {
  if (!nvidiaDriverPresent()) return { engine: "onnx", why: "no NVIDIA driver loaded" };
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
      const picked = await resolveAutoEngine(choice);
      choice.log?.(`notice: engine auto picked ${picked.engine}: ${picked.why}`);
      if (required && picked.engine !== "torch" && (choice.provider ?? "auto") === "auto" && !nvidiaDriverPresent())
        throw new DeviceError(`${required}: a GPU was asked for, but engine auto finds none here (${picked.why}); leave ${required} out to train on the CPU`);
      return createTrainer({ ...choice, engine: picked.engine }, o, state);
    }
    case "onnx": {
      const candidate = await OnnxTrainer.create({ ...o, provider: choice.provider ?? "cpu", log: choice.log }, state);
      onGpuOr(required, candidate, () => providerFailures(choice.provider) || "no GPU execution provider loaded");
      const v = await verifiedTrainer(candidate, (s) => OnnxTrainer.create({ ...o, provider: "cpu", log: choice.log }, s), {
        ...(choice.check ?? defaultCheck()),
        log: choice.log,
        required,
      });
      return remember(v.trainer, v.fallback);
    }
    case "tfjs":
      return remember(await TfjsTrainer.create({ ...o, backend: choice.tfjsBackend ?? "auto" }, state));
    case "torch": {
      const probe = await probeTorch(choice.python ?? "auto");
      // No torch fails the same way on every attempt: a settings error, not retried.
      if ("missing" in probe) throw new ConfigError(`engine torch: ${probe.missing}`);
      const make = (device: string, s: ModelState) => TorchTrainer.create({ ...o, python: probe.found.python, device }, s);
      let candidate: Trainer;
      try {
        candidate = await make(choice.device ?? "auto", state);
      } catch (e) {
        if (required) throw new DeviceError(`${required}: the torch engine could not start on it (${(e as Error).message.split("\n")[0]})`);
        throw e;
      }
      onGpuOr(required, candidate, () => `torch ${probe.found.torch} (${probe.found.python}) sees no CUDA device`);
      // A GPU proves itself against torch on the CPU, as an ONNX execution provider does against the CPU EP.
      const v = await verifiedTrainer(candidate, (s) => make("cpu", s), { ...(choice.check ?? defaultCheck()), log: choice.log, required });
      return remember(v.trainer, v.fallback);
    }
    default:
      throw new ConfigError(`unknown engine "${String(choice.engine)}"; known: auto, onnx, tfjs, torch`);
  }
}
