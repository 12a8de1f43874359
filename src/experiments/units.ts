import { unitId, type Unit } from "../runner/unit.ts";

/** A unit with its id: the hash of kind, config (settings at `defaults` left out) and deps. */
export function mkUnit<C = Record<string, unknown>>(kind: string, config: C, deps: string[], label: string, defaults: unknown = {}): Unit<C> {
  const spec = { kind, config, deps, label };
  return { ...spec, id: unitId(spec, defaults) };
}
