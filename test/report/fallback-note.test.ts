import { expect, test } from "bun:test";
import { fallbackNote } from "../../src/report/markdown.ts";

test("the report header says when auto left units on the CPU after a GPU failed its check, and is silent otherwise", () => {
  const gpu = { env: { trainers: [{ engine: "onnx", provider: "webgpu", deterministic: false }] } };
  const fell = {
    env: {
      trainers: [
        {
          engine: "onnx",
          provider: "cpu",
          deterministic: true,
          fallback: "webgpu failed its check against cpu (gradient of c1.w, relative error 1.0e+0 > tolerance 0.001, 40 tensors compared)",
        },
      ],
    },
  };
  expect(fallbackNote([gpu, { env: {} }])).toBe("");
  expect(fallbackNote([gpu, fell, fell])).toBe(
    "; **auto fell back to the CPU in 2 unit(s)**: webgpu failed its check against cpu (gradient of c1.w, relative error 1.0e+0 > tolerance 0.001, 40 tensors compared)",
  );
});
