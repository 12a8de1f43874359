import * as ort from "onnxruntime-node";
import type { ModelSpec } from "../../models/spec.ts";
import { prunableLayers } from "../../models/spec.ts";
import type { Batch, PackMember, PackTrainer, StepResult } from "../types.ts";
import { batchFeeds, modelFeeds, openSession, readTrainStep, type OnnxTrainerOptions } from "./onnx-trainer.ts";
import type { ProviderName } from "./providers.ts";
import { io, packGraph, packPrefix } from "./training-graph.ts";

type Kind = "train-step" | "eval";

/**
 * K models as K independent copies of the training graph in one ONNX model, one
 * session run per step of all members (training-graph.ts packGraph). Each copy is the
 * unpacked graph with its names prefixed, so every member computes exactly what it
 * would alone. It saves the per-run overhead K-1 times but not the kernels' work; on
 * the CPU EP it was no faster than stepping K trainers in turn (bench:train), so
 * createPack picks it only when engine.packFormulation asks for it.
 */
export class OnnxGraphPack implements PackTrainer {
  readonly engine = "onnx" as const;
  readonly formulation = "grouped" as const;
  provider: ProviderName = "cpu";
  private readonly maskedParams: string[];
  private members: PackMember[];
  private readonly sessions = new Map<Kind, Promise<ort.InferenceSession>>();

  private constructor(
    readonly spec: ModelSpec,
    private readonly o: OnnxTrainerOptions,
    members: PackMember[],
  ) {
    this.maskedParams = o.maskedParams ?? prunableLayers(spec).map((l) => l.name);
    this.members = members.map((m) => ({
      state: m.state,
      masks: Object.fromEntries(this.maskedParams.map((n) => [n, m.masks[n] ?? new Float32Array(m.state.params[n]!.length).fill(1)])),
    }));
  }

  static async create(o: OnnxTrainerOptions, members: PackMember[]): Promise<OnnxGraphPack> {
    if (members.length < 1) throw new RangeError("a pack needs at least one member");
    const p = new OnnxGraphPack(o.spec, o, members);
    await p.session("train-step");
    return p;
  }

  get size(): number {
    return this.members.length;
  }

  private session(kind: Kind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = openSession(this.o, this.maskedParams, kind, (model) => packGraph(model, this.size)).then((r) => {
        this.provider = r.provider;
        return r.session;
      });
      this.sessions.set(kind, s);
    }
    return s;
  }

  member(k: number): PackMember {
    const m = this.members[k];
    if (!m) throw new RangeError(`member ${k} of a pack of ${this.size}`);
    return m;
  }

  async trainStep(batches: Batch[], lr: number): Promise<StepResult[]> {
    if (batches.length !== this.size) throw new RangeError(`batches for ${batches.length} members, the pack has ${this.size}`);
    const s = await this.session("train-step");
    const feeds: Record<string, ort.Tensor> = {};
    this.members.forEach((m, k) => {
      Object.assign(feeds, modelFeeds(this.spec, m.state, m.masks, this.maskedParams, true, packPrefix(k)), batchFeeds(this.spec, batches[k]!, packPrefix(k)));
      feeds[packPrefix(k) + io.lr] = new ort.Tensor("float32", new Float32Array([lr]), []);
    });
    const out = await s.run(feeds);
    return this.members.map((m, k) => {
      const r = readTrainStep(this.spec, out, batches[k]!, packPrefix(k));
      m.state = r.state;
      return r.result;
    });
  }

  async predict(x: Float32Array, size: number): Promise<Float32Array[]> {
    const s = await this.session("eval");
    const [c, h, w] = this.spec.inputShape;
    const feeds: Record<string, ort.Tensor> = {};
    this.members.forEach((m, k) => {
      Object.assign(feeds, modelFeeds(this.spec, m.state, m.masks, this.maskedParams, false, packPrefix(k)));
      feeds[packPrefix(k) + io.x] = new ort.Tensor("float32", x.subarray(0, size * c * h * w), [size, c, h, w]);
    });
    const out = await s.run(feeds);
    return this.members.map((_, k) => out[packPrefix(k) + io.logits]!.data as Float32Array);
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
