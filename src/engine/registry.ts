import { OnnxTrainer } from "./onnx/onnx-trainer.ts";
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
}

/** The one place that maps an engine name to a trainer. */
export async function createTrainer(choice: EngineChoice, o: TrainerOptions, state: ModelState): Promise<Trainer> {
  switch (choice.engine) {
    case "onnx":
      return OnnxTrainer.create({ ...o, provider: choice.provider ?? "cpu", log: choice.log }, state);
    case "tfjs":
      return TfjsTrainer.create({ ...o, backend: choice.tfjsBackend ?? "auto" }, state);
    default:
      throw new Error(`unknown engine "${String(choice.engine)}"; known: onnx, tfjs`);
  }
}
