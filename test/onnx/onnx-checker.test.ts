import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshState } from "../../src/engine/state.ts";
import { compactModel } from "../../src/onnx/compact.ts";
import { exportInferenceModel } from "../../src/onnx/export.ts";
import { blockChannelMasks } from "../../src/prune/channels.ts";
import { tinySpecs } from "../helpers/tiny-models.ts";

const PYTHON = "/usr/bin/python3";
const hasOnnx = Bun.spawnSync([PYTHON, "-c", "import onnx"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;

// The reference ONNX checker (Python `onnx`, Debian's python3-onnx), with full shape inference, is an
// independent consumer of the files: it knows nothing of ONNX Runtime or of this harness.
test.skipIf(!hasOnnx)(
  "exported files (dense, masked, compacted with folded constants and gathered shortcut channels) pass the reference ONNX checker at opset 17",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "onnx-check-"));
    const files: string[] = [];
    for (const spec of tinySpecs()) {
      const state = freshState(spec, 3);
      // Positive BN shifts: a pruned filter's channel becomes a non-zero constant after BN and ReLU, which compaction folds.
      for (const p of spec.params) if (p.role === "bn-beta") state.params[p.name]!.fill(0.1);
      // A stage-3 stream channel that every producer prunes, plus half the inner channels: every compaction case.
      const masks = blockChannelMasks(spec, state.params, 0.5);
      for (const p of spec.params.filter((p) => p.name.startsWith("layer3.") && (p.name.endsWith("conv2.weight") || p.name.includes("downsample")))) {
        const per = p.shape[1]! * p.shape[2]! * p.shape[3]!;
        const m = masks[p.name] ?? new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(1);
        masks[p.name] = m.map((v, i) => (i < per ? 0 : v));
      }
      const c = compactModel(spec, state.params, state.buffers, masks, { bnEps: 1e-5 });
      expect(c.foldedChannels).toBeGreaterThan(0);
      const models = {
        dense: exportInferenceModel(spec, state, {}, { bnEps: 1e-5, metadata: {} }),
        masked: exportInferenceModel(spec, state, masks, { bnEps: 1e-5, metadata: {} }),
        compact: exportInferenceModel(c.spec, c, {}, { bnEps: 1e-5, metadata: {} }),
      };
      for (const [k, bytes] of Object.entries(models)) {
        const f = join(dir, `${spec.arch}-${k}.onnx`);
        writeFileSync(f, bytes);
        files.push(f);
      }
    }
    const script =
      "import onnx, sys\nfor f in sys.argv[1:]:\n    m = onnx.load(f)\n    onnx.checker.check_model(m, full_check=True)\n    print(f, [(o.domain, o.version) for o in m.opset_import], sorted({n.op_type for n in m.graph.node}))";
    const r = Bun.spawnSync([PYTHON, "-c", script, ...files], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString().slice(-1500));
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines.length).toBe(files.length);
    for (const l of lines) expect(l).toContain("[('', 17)]");
    expect(lines.some((l) => l.includes("Gather"))).toBe(true); // the compacted option-A shortcut
  },
  60_000,
);
