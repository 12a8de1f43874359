import { expect, test } from "bun:test";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { applyOverride, ConfigError, validateConfig } from "../../src/config/load.ts";

test("an empty training config resolves to the papers' defaults", () => {
  const c = validateConfig<TrainingConfig>("training", {});
  expect(c.model).toEqual({ arch: "preresnet20", width: 16 });
  expect(c.optim.lr).toBe(0.1);
  expect(c.optim.schedule).toEqual({ kind: "step", milestones: [0.5, 0.75], gamma: 0.1, minLr: 0 });
  expect(c.engine.name).toBe("auto");
});

test("a bad value names the field path, the expectation and the given value", () => {
  expect(() => validateConfig("training", { optim: { lr: -1 } })).toThrow(/optim\.lr: expected > 0, given -1/);
  expect(() => validateConfig("training", { model: { arch: "vgg" } })).toThrow(
    /model\.arch: expected preresnet<D>, resnet<D>a or resnet<D>b \(D = 6n\+2: 20, 32, 44, 56, 110, \.\.\.\), resnet18, vgg16 or resnet50, given "vgg"/,
  );
});

test("unknown keys are errors with exit code 2", () => {
  try {
    validateConfig("training", { optim: { epochz: 3 } });
    throw new Error("accepted an unknown key");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toContain("optim.epochz: unknown setting");
    expect((e as ConfigError).exitCode).toBe(2);
  }
});

test("overrides set nested values parsed as JSON", () => {
  const o: Record<string, unknown> = {};
  applyOverride(o, "optim.epochs=30");
  applyOverride(o, "data.dataset=synthetic");
  applyOverride(o, "optim.schedule.milestones=[0.3,0.6]");
  const c = validateConfig<TrainingConfig>("training", o);
  expect(c.optim.epochs).toBe(30);
  expect(c.data.dataset).toBe("synthetic");
  expect(c.optim.schedule.milestones).toEqual([0.3, 0.6]);
  expect(() => applyOverride(o, "noequals")).toThrow(ConfigError);
});
