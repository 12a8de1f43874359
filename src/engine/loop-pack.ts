import type { Batch, PackMember, PackTrainer, StepResult, Trainer } from "./types.ts";

/**
 * A pack of K ordinary trainers stepped one after another: the formulation for engines
 * where K models in one computation is not faster (the ONNX engine on the CPU, measured
 * in bench:train) and for the TF.js oracle, which is the reference, not fast. The members
 * train exactly as they would alone.
 */
export class LoopPack implements PackTrainer {
  readonly formulation = "loop" as const;

  constructor(readonly trainers: Trainer[]) {
    if (trainers.length < 1) throw new RangeError("a pack needs at least one member");
  }

  get engine() {
    return this.trainers[0]!.engine;
  }
  get provider() {
    return this.trainers[0]!.provider;
  }
  get precision() {
    return this.trainers[0]!.precision;
  }
  get spec() {
    return this.trainers[0]!.spec;
  }
  get size() {
    return this.trainers.length;
  }

  member(k: number): PackMember {
    const t = this.trainers[k];
    if (!t) throw new RangeError(`member ${k} of a pack of ${this.size}`);
    return { state: t.state, masks: t.masks };
  }

  async trainStep(batches: Batch[], lr: number): Promise<StepResult[]> {
    if (batches.length !== this.size) throw new RangeError(`batches for ${batches.length} members, the pack has ${this.size}`);
    const out: StepResult[] = [];
    for (let k = 0; k < this.size; k++) out.push(await this.trainers[k]!.trainStep(batches[k]!, lr));
    return out;
  }

  async predict(x: Float32Array, size: number): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const t of this.trainers) out.push(await t.predict(x, size));
    return out;
  }

  async dispose(): Promise<void> {
    for (const t of this.trainers) await t.dispose();
  }
}
