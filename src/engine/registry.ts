import { validateConfig } from "../config/load.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { OnnxTrainer } from "./onnx/onnx-trainer.ts";
import { verifiedTrainer } from "./provider-check.ts";
import type { ProviderChoice } from "./onnx/providers.ts";
import { TfjsTrainer } from "./tfjs/tfjs-trainer.ts";
import type { EngineName, ModelState, Trainer, TrainerOptions } from "./types.ts";

export interface EngineChoice {
  engine: EngineName;
  /** ONNX Runtime execution provider ("auto" tries cuda, webgpu, then cpu). */
  provider?: ProviderChoice;
  /** TensorFlow.js backend: "auto" uses a native binding when one loads. */
  tfjsBackend?: "auto" | "cpu";
  log?: (line: string) => void;
  /**
   * How a non-CPU execution provider proves itself before training (provider-check.ts);
   * default: the schema's engine.providerCheck.
   */
  check?: { tolerance: number; batchSize: number };
}

/** The schema's defaults (engine.providerCheck), for callers that build trainers without a training config. */
const defaultCheck = () => validateConfig<TrainingConfig>("training", {}).engine.providerCheck;

/** The one place that maps an engine name to a trainer. */
export async function createTrainer(choice: EngineChoice, o: TrainerOptions, state: ModelState): Promise<Trainer> {
  switch (choice.engine) {
    case "onnx": {
      const candidate = await OnnxTrainer.create({ ...o, provider: choice.provider ?? "cpu", log: choice.log }, state);
      return verifiedTrainer(candidate, (s) => OnnxTrainer.create({ ...o, provider: "cpu", log: choice.log }, s), { ...(choice.check ?? defaultCheck()), log: choice.log });
    }
    case "tfjs":
      return TfjsTrainer.create({ ...o, backend: choice.tfjsBackend ?? "auto" }, state);
    default:
      throw new Error(`unknown engine "${String(choice.engine)}"; known: onnx, tfjs`);
  }
}
