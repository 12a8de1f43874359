import type { Op } from "../../models/spec.ts";
import { add } from "./ops/add.ts";
import { addConst } from "./ops/add-const.ts";
import { batchNorm, type BnSettings } from "./ops/batch-norm.ts";
import { channelGather } from "./ops/channel-gather.ts";
import type { OpEmitter } from "./ops/context.ts";
import { conv } from "./ops/conv.ts";
import { fc } from "./ops/fc.ts";
import { flatten } from "./ops/flatten.ts";
import { gap } from "./ops/global-avg-pool.ts";
import { maxPool } from "./ops/max-pool.ts";
import { relu } from "./ops/relu.ts";
import { shortcutA } from "./ops/shortcut-a.ts";

export type EmitterTable = { [K in Op["kind"]]: OpEmitter<K> };

/** Every op kind of the model IR and its ONNX emitter: adding an op is one line here. */
export function emitters(bn: BnSettings): EmitterTable {
  return {
    conv,
    bn: batchNorm(bn),
    relu,
    add,
    "shortcut-a": shortcutA,
    gap,
    fc,
    "add-const": addConst,
    "channel-gather": channelGather,
    maxpool: maxPool,
    flatten,
  };
}
