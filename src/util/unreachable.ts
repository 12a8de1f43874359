/**
 * The `default` of a switch over a union's tag: the compiler refuses a call here while
 * any case is missing (its argument is not `never`), so adding an op kind or a variant
 * fails to compile at every switch that would otherwise ignore it.
 */
export function unreachable(value: never, what = "value"): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
