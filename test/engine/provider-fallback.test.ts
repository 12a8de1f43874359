import { expect, test } from "bun:test";
import { createSession, detectProviders, resetProviderFailures } from "../../src/engine/onnx/providers.ts";
import { buildGraph } from "../../src/engine/onnx/training-graph.ts";
import { tinySpecs } from "../helpers/tiny-models.ts";

const model = () => buildGraph("eval", { spec: tinySpecs()[0]!, maskedParams: [], bn: { eps: 1e-5, momentum: 0.1 }, sgd: { momentum: 0.9, weightDecay: 0 } });

test("cpu is always available and every unavailable provider says why", () => {
  const st = detectProviders();
  expect(st.find((p) => p.name === "cpu")?.available).toBe(true);
  for (const p of st) if (!p.available) expect(p.reason ?? "").toMatch(/\w{10,}/);
});

for (const ep of ["cuda", "webgpu"] as const) {
  const available = detectProviders().find((p) => p.name === ep)!.available;
  // Where the provider loads, its session is made to fail instead: the same fallback path, run on every machine.
  test(`a ${ep} session that fails to start falls back to cpu with one line saying why`, async () => {
    resetProviderFailures();
    const lines: string[] = [];
    const build = (p: string) => {
      if (p !== "cpu") throw new Error(`simulated ${p} start failure`);
      return model();
    };
    const { session, provider } = await createSession(build, ep, { threads: 1, log: (l) => lines.push(l) });
    expect(provider).toBe("cpu");
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(ep);
    expect(lines[0]).toContain("falling back to cpu");
    if (available) expect(lines[0]).toContain(`simulated ${ep} start failure`);
    await session.release();
    resetProviderFailures();
  });
  test.skipIf(available)(`asking for ${ep} where it cannot load falls back to cpu with one line saying why`, async () => {
    const lines: string[] = [];
    const { session, provider } = await createSession(model(), ep, { threads: 1, log: (l) => lines.push(l) });
    expect(provider).toBe("cpu");
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(ep);
    expect(lines[0]).toContain("falling back to cpu");
    await session.release();
  });
}

test.skipIf(detectProviders().some((p) => p.name !== "cpu" && p.available))(
  "auto on a machine without GPU providers says so in one line and uses cpu",
  async () => {
    const lines: string[] = [];
    const { session, provider } = await createSession(model(), "auto", { threads: 1, log: (l) => lines.push(l) });
    expect(provider).toBe("cpu");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/no GPU execution provider loaded \(cuda: .*webgpu: .*\); training on cpu/);
    await session.release();
  },
);
