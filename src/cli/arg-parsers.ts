import { InvalidArgumentError } from "commander";
import { ConfigError } from "../config/load.ts";

/**
 * Commander argument parsers for the scripts that take numbers, patterns or JSON on the
 * command line: a bad value is a usage error (exit 2) that says what was expected.
 */

/** An integer >= min (even ones only with `even`). */
export const intArg =
  (min: number, o: { even?: boolean } = {}) =>
  (v: string): number => {
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || (o.even && Number(v) % 2))
      throw new InvalidArgumentError(`expected ${o.even ? "an even" : "an"} integer >= ${min}`);
    return Number(v);
  };

/** A number > 0. */
export const positiveArg = (v: string): number => {
  if (!(Number(v) > 0)) throw new InvalidArgumentError("expected a number > 0");
  return Number(v);
};

/** A regular expression. */
export const regexArg = (v: string): RegExp => {
  try {
    return new RegExp(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/** Any JSON value. */
export const jsonArg = (v: string): unknown => {
  try {
    return JSON.parse(v) as unknown;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/**
 * A flag's comma-separated distinct non-negative integers ("--seeds", "1,2,3"), or a
 * ConfigError naming the flag: no empty entry (which Number() would read as 0), no repeat.
 */
export function seedList(flag: string, v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  const expected = `${flag}: expected comma-separated distinct non-negative integers, e.g. 1,2,3, given "${v}"`;
  const bad = parts.find((s) => !/^\d+$/.test(s));
  if (bad !== undefined) throw new ConfigError(`${expected} (${bad === "" ? "an empty entry" : `"${bad}" is not one`})`);
  const seeds = parts.map(Number);
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new ConfigError(`${expected} (${twice} is listed twice; give each seed once)`);
  return seeds;
}
