import { expect, test } from "bun:test";
import { renderTrainThroughput, type BenchRecord, type Measurement } from "../../src/report/train-throughput-report.ts";
import type { EpochRecord } from "../../src/train/train-loop.ts";
import { tableRows } from "../helpers/markdown-tables.ts";
import { CASE, config, engine, packRow, profileRecord, raw, record } from "../helpers/throughput-records.ts";

/**
 * reports/train-throughput.md's tables from records built by hand: every number below is
 * worked from the record's fields (ms/step = 128 images / img/s), not read back from
 * the report's own code.
 */
const skipped = (engineKey: Measurement["engine"], reason: string): Measurement => ({ case: CASE, engine: engineKey, status: "skipped", reason });

test("images per second: engine rows with what runs outside the model, raw PyTorch rows, skipped rows with their reason", () => {
  // torch on the CPU at 960 img/s, 4% of its step on the host; ONNX at 500 img/s building batches in JS (1 ms of 256 ms);
  // a half-batch torch row is not compared; a torch CUDA row without host timing shows nothing outside.
  const onnx = { ...engine("cpu", 500, 0), engine: "onnx-cpu", hostShare: null, hostMsPerStep: null, batchMsPerStep: 1 } as Measurement;
  const half = { ...engine("cpu", 480, 0.04), batchSize: 64 } as Measurement;
  const cuda = { ...engine("cuda", 6400, 0), hostShare: null, hostMsPerStep: null } as Measurement;
  const r = record(
    [engine("cpu", 960, 0.04), onnx, half, cuda, skipped("tfjs", "no time")],
    [raw("cpu", 1000), { case: CASE, device: "cuda", status: "skipped", reason: "no GPU" }],
  );
  expect(tableRows(renderTrainThroughput(r), "case").slice(0, 7)).toEqual([
    [CASE, "torch-cpu", "cpu", "2", "128", "133.33 ms", "host 5.33 ms (4.0%)", "**960.0** img/s (0.96x raw PyTorch cpu)"],
    [CASE, "onnx-cpu", "cpu", "2", "128", "256.00 ms", "JS batches 1.00 ms (0.4%)", "**500.0** img/s (0.50x raw PyTorch cpu)"],
    [CASE, "torch-cpu", "cpu", "2", "64", "266.67 ms", "host 10.67 ms (4.0%)", "**480.0** img/s (no raw PyTorch row to compare)"],
    [CASE, "torch-cuda", "cuda:0", "2", "128", "20.00 ms", "-", "**6400.0** img/s (no raw PyTorch row to compare)"],
    [CASE, "tfjs", "-", "-", "-", "-", "-", "skipped: no time"],
    [CASE, "raw pytorch cpu", "torch 2.0 CPU", "2", "128", "128.00 ms", "-", "**1000.0** img/s"],
    [CASE, "raw pytorch cuda", "-", "-", "-", "-", "-", "skipped: no GPU"],
  ]);
  const withGpu = renderTrainThroughput(record([], [raw("cuda", 8000)]));
  expect(tableRows(withGpu, "case")[0]!.slice(1, 3)).toEqual(["raw pytorch cuda", "torch 2.0 NVIDIA H100 80GB HBM3"]);
});

test("the JS-batches note names each measured ONNX row's cost, or says none was measured", () => {
  const onnx = { ...engine("cpu", 500, 0), engine: "onnx-cpu", hostShare: null, hostMsPerStep: null, batchMsPerStep: 2.56 } as Measurement;
  expect(renderTrainThroughput(record([onnx], []))).toContain(
    `takes 2.56 of 256.00 ms per step (1.0%) on onnx-cpu, ${CASE}: the most a resident path could save`,
  );
  expect(renderTrainThroughput(record([engine("cpu", 960, 0.04), skipped("onnx-cpu", "x")], []))).toContain("No ONNX engine row was measured here");
});

test("packed training: ms per step of all members, images per model, each pack against its own engine and formulation at K=1", () => {
  const loopOne = { ...packRow("torch-cpu", 1, 90), formulation: "loop" as const };
  const r: BenchRecord = {
    ...record([], []),
    packs: [
      packRow("torch-cpu", 1, 100),
      packRow("torch-cpu", 4, 320),
      loopOne,
      { ...packRow("torch-cpu", 4, 180), formulation: "loop" },
      packRow("torch-cuda", 2, 500),
      { case: CASE, engine: "torch-cuda", formulation: "grouped", size: 8, status: "skipped", reason: "out of memory" },
    ],
  };
  // K=4 grouped: 10 steps of 4 x 128 images at 320 img/s = 16 s, 1600 ms a step; 3.20x the K=1 pack; the loop pack against the loop K=1 (2.00x).
  expect(tableRows(renderTrainThroughput(r), ["case", "engine", "formulation"])).toEqual([
    [CASE, "torch-cpu", "grouped", "1", "2", "1280.0 ms", "**100.0**", "100.0", "1.00x"],
    [CASE, "torch-cpu", "grouped", "4", "2", "1600.0 ms", "**320.0**", "80.0", "3.20x"],
    [CASE, "torch-cpu", "loop", "1", "2", "1422.2 ms", "**90.0**", "90.0", "1.00x"],
    [CASE, "torch-cpu", "loop", "4", "2", "2844.4 ms", "**180.0**", "45.0", "2.00x"],
    [CASE, "torch-cuda", "grouped", "2", "2", "512.0 ms", "**500.0**", "250.0", "-"],
    [CASE, "torch-cuda", "grouped", "8", "-", "-", "-", "-", "skipped: out of memory"],
  ]);
  expect(renderTrainThroughput(r)).toContain(`then ${config.throughput.packs.timedEpochs ?? config.throughput.timedEpochs} rounds`);
  // A record written before packs had their own timedEpochs: the rows' count.
  const old = { ...config.throughput.packs, timedEpochs: undefined as unknown as number };
  const own = renderTrainThroughput({ ...r, config: { ...config, throughput: { ...config.throughput, timedEpochs: 7, packs: old } } });
  expect(own).toContain("then 7 rounds");
});

test("runs sharing one GPU: all runs' images per second and each run's; skipped rows say why", () => {
  const r: BenchRecord = {
    ...record([], []),
    grid: [
      { case: CASE, workers: 4, status: "measured", provider: "cuda:0", imagesPerSecond: 4000, perRun: [1000, 990.5, 1010, 999.5] },
      { case: CASE, workers: 8, status: "skipped", reason: "one GPU" },
    ],
  };
  expect(tableRows(renderTrainThroughput(r), ["case", "runs at once"])).toEqual([
    [CASE, "4", "cuda:0", "**4000.0**", "1000.0, 990.5, 1010.0, 999.5"],
    [CASE, "8", "-", "-", "skipped: one GPU"],
  ]);
});

test("the profile table leaves out ops under 0.2% of the step; the accuracy table shows every 5th evaluated epoch and the last", () => {
  const epochs: EpochRecord[] = Array.from({ length: 12 }, (_, i) => ({
    epoch: i + 1,
    lr: 0.1 / (i + 1),
    trainLoss: 1 / (i + 1),
    trainAccuracy: 0.5 + i / 100,
    seconds: 3,
    // Epoch 10 was not evaluated.
    ...(i + 1 === 10 ? {} : { testAccuracy: 0.4 + i / 100, testLoss: 1 }),
  }));
  const r: BenchRecord = {
    ...record([], []),
    profile: profileRecord(
      11,
      [
        ["Conv", 9.98, 20],
        ["Add", 0.02, 9],
        ["Cast", 0.019, 1],
      ],
      10,
    ),
    accuracy: {
      dataset: "cifar10",
      source: "test files",
      arch: "preresnet20",
      width: 16,
      trainImages: 500,
      testImages: 100,
      epochs,
      status: "done",
      finalTestAccuracy: 0.4512,
      wallSeconds: 90,
      engine: "onnx",
      provider: "cpu",
      precision: "fp32",
    },
  };
  const md = renderTrainThroughput(r);
  expect(tableRows(md, "op type")).toEqual([
    ["Conv", "9.98", "99.8%", "20"],
    ["Add", "0.02", "0.2%", "9"],
  ]);
  expect(md).toContain("10.0 ms of kernel time per step (11.0 ms wall with profiling on)");
  expect(tableRows(md, "epoch")).toEqual([
    ["5", "0.020", "0.2000", "54.00", "44.00", "3.0"],
    ["12", "0.0083", "0.0833", "61.00", "51.00", "3.0"],
  ]);
  expect(md).toContain("final test accuracy **45.12%**, 1.5 min wall");
  expect(renderTrainThroughput({ ...r, accuracy: { ...r.accuracy!, finalTestAccuracy: null } })).toContain("final test accuracy **n/a**");
  expect(renderTrainThroughput(record([], []))).not.toContain("## Does training learn?");
});

test("the header: preset and threads; the augmentation sentence follows the config's flip", () => {
  const md = renderTrainThroughput(record([], []));
  expect(md).toContain("bun run bench:train --preset quick");
  expect(md).toMatch(/\| engine threads \| 2 \|/);
  expect(md).toContain(", and random flips)");
  const noFlip = renderTrainThroughput({
    ...record([], []),
    config: { ...config, throughput: { ...config.throughput, augment: { ...config.throughput.augment, flip: false } } },
  });
  expect(noFlip).not.toContain("random flips");
});
