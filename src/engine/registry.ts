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
   * default: tolerance 1e-3 on a batch of 8.
   */
  check?: { tolerance: number; batchSize: number };
}

const DEFAULT_CHECK = { tolerance: 1e-3, batchSize: 8 };

/** The one place that maps an engine name to a trainer. */
export async function createTrainer(choice: EngineChoice, o: TrainerOptions, state: ModelState): Promise<Trainer> {
  switch (choice.engine) {
    case "onnx": {
      const candidate = await OnnxTrainer.create({ ...o, provider: choice.provider ?? "cpu", log: choice.log }, state);
      return verifiedTrainer(candidate, (s) => OnnxTrainer.create({ ...o, provider: "cpu", log: choice.log }, s), { ...(choice.check ?? DEFAULT_CHECK), log: choice.log });
    }
    case "tfjs":
      return TfjsTrainer.create({ ...o, backend: choice.tfjsBackend ?? "auto" }, state);
    default:
      throw new Error(`unknown engine "${String(choice.engine)}"; known: onnx, tfjs`);
  }
}
