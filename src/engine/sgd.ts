import type { ModelState, Tensors } from "./types.ts";

/**
 * torch.optim.SGD's update in JS (momentum, no dampening, weight decay added to the
 * gradient), with pruned weights re-masked. Used where the gradient comes from outside
 * a train-step graph: SAM and the TensorFlow.js engine.
 */
export function sgdUpdate(
  state: ModelState,
  grads: Tensors,
  masks: Tensors,
  o: { lr: number; momentum: number; weightDecay: number },
): { params: Tensors; momentum: Tensors } {
  const params: Tensors = {},
    momentum: Tensors = {};
  for (const [name, theta] of Object.entries(state.params)) {
    const v = state.momentum[name]!,
      g = grads[name]!,
      m = masks[name];
    const nt = new Float32Array(theta.length),
      nv = new Float32Array(theta.length);
    for (let i = 0; i < theta.length; i++) {
      const gi = (m ? g[i]! * m[i]! : g[i]!) + o.weightDecay * theta[i]!;
      nv[i] = o.momentum * v[i]! + gi;
      nt[i] = (theta[i]! - o.lr * nv[i]!) * (m ? m[i]! : 1);
    }
    params[name] = nt;
    momentum[name] = nv;
  }
  return { params, momentum };
}
