#!/usr/bin/env bun
/**
 * bun run models:export — trains the dense model, prunes it unstructured and structured
 * to the preset's densities, fine-tunes, compacts the structured ones, and writes
 * parity-checked inference ONNX files plus manifest.json to <models-dir>/<preset>/.
 */
import { Option } from "commander";
import { join } from "node:path";
import { ConfigError } from "../config/load.ts";
import type { ModelsExportConfig } from "../config/generated/models-export.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { exportBenchmarkModels, exportUnits } from "../experiments/benchmark-models.ts";
import { assertUnitId, exportUnit, exportUnitStateDict } from "../experiments/export-unit.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { runContext } from "../util/provenance.ts";
import { runUnits } from "../runner/run-units.ts";
import { RunStore } from "../runner/store.ts";
import { addDataOptions, addRunnerOptions, baseCommand, notice, runMain, runnerConfig, settingsOf, type CommonOptions, type RunnerFlags } from "./common.ts";

const SETTINGS = {
  command: "models-export",
  schema: "models-export",
  example: "fineTune.epochs=2",
  reportDirHelp: "only read for --dry-run's time estimate (the measured throughput in <dir>/train-throughput.json); the models and manifest go to --models-dir",
  data: "training.data",
};

const cmd = addDataOptions(
  addRunnerOptions(
    baseCommand("models:export", "Train, prune (unstructured and structured), fine-tune and export the benchmark's ONNX models", SETTINGS),
  ).option("--models-dir <dir>", "where the files go (in a folder named after the preset)", "models"),
  SETTINGS,
)
  .option("--unit <id>", "instead: export the model of this finished unit of the run store (any kind) to <models-dir>/units/<id>.onnx")
  .option("--checkpoint <file>", "with --unit: which file of the unit (default model.ckpt; e.g. snapshot-e30.ckpt of a dense unit)")
  .option("--no-compact", "with --unit: keep pruned channels (masked zeros) instead of removing them")
  .addOption(
    new Option("--format <format>", "with --unit: onnx (an inference model) or torch (a PyTorch state_dict, <id>.pt, torch.load-able; masked, not compacted)")
      .choices(["onnx", "torch"])
      .default("onnx"),
  );

await runMain(async () => {
  const opts = cmd.parse().opts<
    RunnerFlags &
      CommonOptions & {
        modelsDir: string;
        unit?: string;
        checkpoint?: string;
        compact: boolean;
        format: "onnx" | "torch";
      }
  >();
  if (opts.format === "torch" && !opts.unit)
    throw new ConfigError(
      "--format torch needs --unit <id>: it writes one unit's weights as a PyTorch state_dict (the benchmark's compacted models have no PyTorch architecture); `bun run collect` lists the units",
    );
  const { preset, overrides, configFiles } = settingsOf(opts, SETTINGS);
  const cfg = loadPresetConfig<ModelsExportConfig>("models-export", "models-export", preset, overrides, configFiles);
  const runner = runnerConfig(opts);
  if (opts.unit) {
    // The id names a folder of the run store and the output file: never a path.
    assertUnitId(opts.unit, opts.runsDir);
    const path = join(opts.modelsDir, "units", `${opts.unit}.${opts.format === "torch" ? "pt" : "onnx"}`);
    if (opts.dryRun) {
      const done = new RunStore(opts.runsDir).result(opts.unit, { readOnly: true }) !== null;
      return void console.log(
        done
          ? `plan: export unit ${opts.unit} (${opts.checkpoint ?? "model.ckpt"}${opts.format === "torch" ? ", PyTorch state_dict" : opts.compact ? ", compacted" : ""}) to ${path}`
          : `plan: unit ${opts.unit} has no finished result in ${opts.runsDir}; nothing to export`,
      );
    }
    if (opts.format === "torch") {
      const t = await exportUnitStateDict(opts.runsDir, opts.unit, { checkpoint: opts.checkpoint, log: notice });
      writeFileAtomic(path, t.bytes);
      return void console.log(
        `${path}: ${t.kind} unit, ${t.checkpoint}, ${t.arch}, ${t.tensors} tensors (PyTorch state_dict; masked weights stored as zeros; load with model.load_state_dict(torch.load(path)))`,
      );
    }
    const r = await exportUnit(opts.runsDir, opts.unit, { checkpoint: opts.checkpoint, compact: opts.compact, parity: cfg.parity, log: notice });
    writeFileAtomic(path, r.bytes);
    console.log(
      `${path}: ${r.kind} unit, ${r.checkpoint}, conv weights ${(100 * r.convWeightDensity).toFixed(1)}%, MACs ${((100 * r.macs.remaining) / r.macs.dense).toFixed(1)}% of dense, ${r.removedConvChannels} conv channels removed, parity ${r.parityMaxAbsDiff.toExponential(1)}`,
    );
    return;
  }
  if (opts.dryRun) {
    const { dense, pruned } = exportUnits(cfg);
    await runUnits([dense, ...pruned], runner, { dryRun: true, reportDir: opts.reportDir });
    return;
  }
  const outDir = join(opts.modelsDir, opts.preset);
  const m = await exportBenchmarkModels(cfg, runner, { outDir, preset: opts.preset, reportDir: opts.reportDir, context: runContext(), log: notice });
  for (const x of m.models) {
    console.log(
      `${x.file.padEnd(28)} ${x.kind.padEnd(12)} conv weights ${(100 * x.convWeightDensity).toFixed(1).padStart(5)}%  MACs ${((100 * x.macs.remaining) / x.macs.dense).toFixed(1).padStart(5)}%  test acc ${x.testAccuracy === null ? "n/a" : (100 * x.testAccuracy).toFixed(2)}%  parity ${x.parityMaxAbsDiff.toExponential(1)}`,
    );
  }
  console.log(`\nwrote ${m.models.length} models and ${join(outDir, "manifest.json")}`);
});
