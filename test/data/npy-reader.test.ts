/**
 * The .npy dataset: files written here byte by byte per the NumPy format spec
 * (numpy/lib/format.py): "\x93NUMPY", major, minor, header length (uint16 LE for 1.0,
 * uint32 LE for 2.0/3.0), then a Python dict literal padded with spaces so the data starts
 * at a multiple of 64, ending in "\n".
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { loadPresetConfig } from "../../src/config/presets.ts";
import { channelStats, classCounts, loadNpyDir, NPY_FILES, parseNpy, readNpyHeader, resolveDataset } from "../../src/data/index.ts";
import type { Dataset } from "../../src/data/index.ts";
import { nominalTrainCount } from "../../src/data/resolve.ts";
import { loadData, modelFor } from "../../src/train/setup.ts";
import { dataErrorOf, makeTempDir } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("npy-");
afterAll(tmp.cleanup);

// ---- A tiny .npy writer

type Descr = "|u1" | "|i1" | "<u1" | "<u2" | "<i2" | "<i4" | "<i8" | "<u8" | "<f4" | "<f8" | ">f4" | ">i8" | "|b1" | "<U3";

interface NpyOpts {
  version?: 1 | 2 | 3;
  fortran?: boolean;
  /** Replaces the whole header dict. */
  dict?: string;
}

function npy(descr: string, shape: number[], data: Uint8Array, o: NpyOpts = {}): Uint8Array {
  const version = o.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = o.dict ?? `{'descr': '${descr}', 'fortran_order': ${o.fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const unpadded = pre + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const header = dict + " ".repeat(total - unpadded) + "\n";
  const out = new Uint8Array(total + data.length);
  out.set([0x93, ..."NUMPY"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))));
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(data, total);
  return out;
}

/** Element bytes of `values` in dtype `descr` (byte order as the descr says). */
function bytesOf(descr: Descr, values: number[]): Uint8Array {
  const little = descr[0] !== ">";
  const code = descr.slice(1);
  const size = Number(code.slice(1));
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    const at = i * size;
    switch (code) {
      case "u1":
      case "b1":
        return v.setUint8(at, x);
      case "i1":
        return v.setInt8(at, x);
      case "u2":
        return v.setUint16(at, x, little);
      case "i2":
        return v.setInt16(at, x, little);
      case "i4":
        return v.setInt32(at, x, little);
      case "i8":
        return v.setBigInt64(at, BigInt(x), little);
      case "u8":
        return v.setBigUint64(at, BigInt(x), little);
      case "f4":
        return v.setFloat32(at, x, little);
      case "f8":
        return v.setFloat64(at, x, little);
      default:
        throw new Error(`test writer: no ${descr}`);
    }
  });
  return out;
}

const array = (descr: Descr, shape: number[], values: number[], o: NpyOpts = {}) => npy(descr, shape, bytesOf(descr, values), o);

// ---- A small dataset, known pixel by pixel

const C = 3,
  H = 5,
  W = 6;
const pixel = (split: number, n: number, c: number, y: number, x: number) => (split * 101 + n * 37 + c * 71 + y * 13 + x * 7) & 0xff;
const labelOf = (split: number, n: number) => (n + split) % 4;

/** Values of a split in NCHW or NHWC order (C=1 with "NHW" gives the 3-D greyscale order). */
function values(split: number, count: number, layout: "NCHW" | "NHWC", channels = C): number[] {
  const out: number[] = [];
  for (let n = 0; n < count; n++) {
    if (layout === "NCHW") for (let c = 0; c < channels; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out.push(pixel(split, n, c, y, x));
    else for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < channels; c++) out.push(pixel(split, n, c, y, x));
  }
  return out;
}

const COUNTS = [8, 4];

interface DirOpts {
  layout?: "NCHW" | "NHWC" | "NHW";
  imageDescr?: Descr;
  /** Maps each 0..255 pixel to the stored value (e.g. v / 255 for floats in [0, 1]). */
  scale?: (v: number) => number;
  labelDescr?: Descr;
  labelShape?: "N" | "N1";
  version?: 1 | 2 | 3;
}

async function writeDir(name: string, o: DirOpts = {}): Promise<string> {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const layout = o.layout ?? "NCHW";
  const channels = layout === "NHW" ? 1 : C;
  const files = [
    [NPY_FILES.trainImages, NPY_FILES.trainLabels],
    [NPY_FILES.testImages, NPY_FILES.testLabels],
  ] as const;
  for (let split = 0; split < 2; split++) {
    const count = COUNTS[split]!;
    const shape = layout === "NCHW" ? [count, C, H, W] : layout === "NHWC" ? [count, H, W, C] : [count, H, W];
    const px = values(split, count, layout === "NHWC" ? "NHWC" : "NCHW", channels).map(o.scale ?? ((v) => v));
    const labels = Array.from({ length: count }, (_, n) => labelOf(split, n));
    await Bun.write(join(dir, files[split]![0]), array(o.imageDescr ?? "|u1", shape, px, { version: o.version ?? 1 }));
    await Bun.write(
      join(dir, files[split]![1]),
      array(o.labelDescr ?? "<i8", o.labelShape === "N1" ? [count, 1] : [count], labels, { version: o.version ?? 1 }),
    );
  }
  return dir;
}

function expectKnownData(ds: Dataset, channels = C): void {
  expect([ds.name, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual(["npy", channels, H, W, 4]);
  for (let split = 0; split < 2; split++) {
    const s = split === 0 ? ds.train : ds.test;
    expect(s.count).toBe(COUNTS[split]!);
    expect(Array.from(s.images)).toEqual(values(split, COUNTS[split]!, "NCHW", channels));
    expect(Array.from(s.labels)).toEqual(Array.from({ length: COUNTS[split]! }, (_, n) => labelOf(split, n)));
  }
}

// ---- The format

describe(".npy format", () => {
  test("header v1.0, v2.0 and v3.0 decode to the same array; the data starts at a multiple of 64", () => {
    for (const version of [1, 2, 3] as const) {
      const a = parseNpy(array("<i4", [2, 3], [1, -2, 3, 4, 5, 600], { version }), `v${version}.npy`);
      expect(a.version).toBe(`${version}.0`);
      expect([a.dtype, a.shape, a.length, a.dataOffset % 64]).toEqual([{ descr: "<i4", kind: "i", size: 4 }, [2, 3], 6, 0]);
      expect(Array.from(new Int32Array(a.data.slice().buffer))).toEqual([1, -2, 3, 4, 5, 600]);
    }
  });

  test("the header dict may use other key orders, double quotes, no trailing comma, a 1-tuple or py2 longs", () => {
    const data = bytesOf("|u1", [1, 2, 3]);
    for (const dict of [
      `{"shape": (3,), "fortran_order": False, "descr": "|u1"}`,
      `{'fortran_order':False,'shape':(3L,),'descr':'|u1'}`,
      `{'descr': '|u1', 'fortran_order': False, 'shape': [3]}`,
    ]) {
      const a = parseNpy(npy("", [], data, { dict }), "x.npy");
      expect([a.dtype.descr, a.shape]).toEqual(["|u1", [3]]);
    }
  });

  test("readNpyHeader reads only the header", async () => {
    const path = join(tmp.dir, "hdr.npy");
    await Bun.write(path, array("<f4", [7, 2, 2], new Array(28).fill(0.5), { version: 2 }));
    expect(readNpyHeader(path).shape).toEqual([7, 2, 2]);
  });
});

// ---- Decoding datasets

describe("loadNpyDir", () => {
  test("NCHW and NHWC uint8 files decode to the same NCHW splits", async () => {
    const nchw = await loadNpyDir(await writeDir("nchw", { layout: "NCHW" }));
    const nhwc = await loadNpyDir(await writeDir("nhwc", { layout: "NHWC" }));
    expectKnownData(nchw);
    expect(nhwc.train).toEqual(nchw.train);
    expect(nhwc.test).toEqual(nchw.test);
    expect(nchw.source).toContain("NCHW '|u1'");
    expect(nhwc.source).toContain("NHWC '|u1'");
  });

  test("(N, H, W) greyscale images have one channel", async () => {
    expectKnownData(await loadNpyDir(await writeDir("nhw", { layout: "NHW", version: 2 })), 1);
  });

  test("float32 in [0, 1], float64 in [0, 255] and int64 images give the uint8 pixels", async () => {
    const unit = await loadNpyDir(await writeDir("f4", { layout: "NHWC", imageDescr: "<f4", scale: (v) => v / 255 }));
    expectKnownData(unit);
    expect(unit.source).toContain("in [0,1]");
    const byte = await loadNpyDir(await writeDir("f8", { imageDescr: "<f8" }));
    expectKnownData(byte);
    expect(byte.source).toContain("in [0,255]");
    expectKnownData(await loadNpyDir(await writeDir("i8img", { imageDescr: "<i8" })));
  });

  test("floats round to the nearest level", async () => {
    // 0.5/255 sits exactly between levels 0 and 1 and rounds up; 254.6/255 rounds to 255.
    const dir = join(tmp.dir, "round");
    mkdirSync(dir);
    await Bun.write(join(dir, NPY_FILES.trainImages), array("<f4", [1, 1, 2, 2], [0.4 / 255, 0.6 / 255, 254.6 / 255, 1]));
    await Bun.write(join(dir, NPY_FILES.trainLabels), array("<i8", [1], [0]));
    await Bun.write(join(dir, NPY_FILES.testImages), array("<f4", [1, 1, 2, 2], [0, 0.5, 0.25, 0.75]));
    await Bun.write(join(dir, NPY_FILES.testLabels), array("<i8", [1], [1]));
    const ds = await loadNpyDir(dir);
    expect(Array.from(ds.train.images)).toEqual([0, 1, 255, 255]);
    expect(Array.from(ds.test.images)).toEqual([0, 128, 64, 191]);
  });

  test("labels of any integer dtype, shaped (N,) or (N, 1), give the same labels", async () => {
    for (const labelDescr of ["|u1", "|i1", "<u2", "<i2", "<i4", "<i8", "<u8"] as const) {
      expectKnownData(await loadNpyDir(await writeDir(`lab-${labelDescr.slice(1)}`, { labelDescr, labelShape: labelDescr === "<i4" ? "N1" : "N" })));
    }
  });

  test("numClasses is the largest label + 1 and normalisation comes from the training images", async () => {
    const ds = await loadNpyDir(await writeDir("stats"));
    expect(ds.numClasses).toBe(4);
    expect(classCounts(ds.train, 4)).toEqual([2, 2, 2, 2]);
    const { mean, std } = channelStats(ds.train.images, ds.train.count, C, H * W);
    expect([ds.mean, ds.std]).toEqual([mean, std]);
  });

  test("padTo zero-pads smaller images, centred, and the stats include the padding", async () => {
    const dir = await writeDir("pad");
    const ds = await loadNpyDir(dir, { padTo: 8 });
    expect([ds.height, ds.width]).toEqual([8, 8]);
    expect(ds.source).toContain("zero-padded to 8x8");
    // 5x6 in 8x8: top margin 1 (odd margin: the extra row goes below), left margin 1.
    const img = ds.train.images;
    expect(img.length).toBe(COUNTS[0]! * C * 64);
    expect(img[0]).toBe(0);
    expect(img[1 * 8 + 1]).toBe(pixel(0, 0, 0, 0, 0));
    expect(img[64 + (1 + 4) * 8 + 1 + 5]).toBe(pixel(0, 0, 1, 4, 5));
    expect(img[64 + 7 * 8 + 1]).toBe(0);
    expect(ds.mean).toEqual(channelStats(img, ds.train.count, C, 64).mean);
    // Images already at least padTo stay as they are.
    expect((await loadNpyDir(dir, { padTo: 5 })).width).toBe(W);
  });
});

// ---- Bad input

describe("loadNpyDir bad input", () => {
  const fresh = (name: string) => writeDir(name);

  test("a missing directory and a missing file are named, with the four file names", async () => {
    const absent = join(tmp.dir, "absent");
    const e1 = await dataErrorOf(loadNpyDir(absent));
    expect(e1.message).toContain(absent);
    expect(e1.message).toContain("test_labels.npy");
    const dir = await fresh("missing");
    await Bun.file(join(dir, NPY_FILES.testLabels)).delete();
    const e2 = await dataErrorOf(loadNpyDir(dir));
    expect(e2.message).toContain(join(dir, NPY_FILES.testLabels));
    expect(e2.path).toBe(join(dir, NPY_FILES.testLabels));
  });

  test("bad magic names the file and the expected bytes; an .npz gets its own advice", async () => {
    const dir = await fresh("magic");
    const path = join(dir, NPY_FILES.trainImages);
    const good = array("|u1", [1, 3, 4, 4], new Array(48).fill(1));
    good[1] = 0x4f; // "\x93OUMPY"
    await Bun.write(path, good);
    const e = await dataErrorOf(loadNpyDir(dir));
    expect(e.message).toContain(path);
    expect(e.message).toContain("bad magic");
    expect(e.message).toContain("93 4e 55 4d 50 59");
    await Bun.write(path, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect((await dataErrorOf(loadNpyDir(dir))).message).toContain("numpy.save");
  });

  test("fortran_order True is refused with the fix", async () => {
    const dir = await fresh("fortran");
    const path = join(dir, NPY_FILES.testImages);
    await Bun.write(path, array("|u1", [4, C, H, W], values(1, 4, "NCHW"), { fortran: true }));
    const e = await dataErrorOf(loadNpyDir(dir));
    expect(e.message).toContain(path);
    expect(e.message).toContain("Fortran");
    expect(e.message).toContain("ascontiguousarray");
  });

  test("big-endian images and labels are refused with the astype fix", async () => {
    const dir = await fresh("bigendian");
    const path = join(dir, NPY_FILES.trainImages);
    await Bun.write(path, array(">f4", [8, C, H, W], values(0, 8, "NCHW")));
    const e = await dataErrorOf(loadNpyDir(dir));
    expect(e.message).toContain(path);
    expect(e.message).toContain("big-endian");
    expect(e.message).toContain("astype('<f4')");
    const dir2 = await fresh("bigendian-labels");
    await Bun.write(join(dir2, NPY_FILES.trainLabels), array(">i8", [8], [0, 1, 2, 3, 0, 1, 2, 3]));
    expect((await dataErrorOf(loadNpyDir(dir2))).message).toContain("astype('<i8')");
  });

  test("labels out of range name the file, index and value", async () => {
    for (const [bad, descr] of [
      [-1, "<i8"],
      [65_536, "<i4"],
    ] as const) {
      const dir = await fresh(`range${bad}`);
      const path = join(dir, NPY_FILES.testLabels);
      await Bun.write(path, array(descr, [4], [0, 1, bad, 2]));
      const e = await dataErrorOf(loadNpyDir(dir));
      expect(e.message).toContain(path);
      expect(e.message).toContain(`label ${bad} at index 2`);
      expect(e.message).toContain("0..65535");
    }
  });

  test("labels beyond 255 (ImageNet's 1000 classes) are kept exactly, two bytes each; up to 255 one byte", async () => {
    const dir = await fresh("wide");
    await Bun.write(join(dir, NPY_FILES.trainLabels), array("<i8", [8], [0, 999, 256, 3, 4, 5, 6, 7]));
    await Bun.write(join(dir, NPY_FILES.testLabels), array("<i8", [4], [999, 1, 2, 3]));
    const ds = await loadNpyDir(dir, { log: () => {} });
    expect(ds.numClasses).toBe(1000);
    expect(ds.train.labels).toBeInstanceOf(Uint16Array);
    expect([...ds.train.labels]).toEqual([0, 999, 256, 3, 4, 5, 6, 7]);
    const narrow = await loadNpyDir(await fresh("narrow"), { log: () => {} });
    expect(narrow.train.labels).toBeInstanceOf(Uint8Array);
  });

  test("mismatched image and label counts, and train/test shapes, are named", async () => {
    const dir = await fresh("counts");
    await Bun.write(join(dir, NPY_FILES.trainLabels), array("<i8", [7], [0, 1, 2, 3, 0, 1, 2]));
    const e = await dataErrorOf(loadNpyDir(dir));
    expect(e.message).toContain("has 8 images but");
    expect(e.message).toContain("has 7 labels");
    const dir2 = await fresh("shapes");
    await Bun.write(join(dir2, NPY_FILES.testImages), array("|u1", [4, 1, H, W], new Array(4 * H * W).fill(0)));
    expect((await dataErrorOf(loadNpyDir(dir2))).message).toContain(`train images are 3x${H}x${W} (CxHxW) but test images are 1x${H}x${W}`);
  });

  test("truncated files and trailing bytes give expected vs actual sizes", async () => {
    const dir = await fresh("trunc");
    const path = join(dir, NPY_FILES.trainImages);
    const full = await Bun.file(path).bytes();
    await Bun.write(path, full.subarray(0, full.length - 5));
    const e = await dataErrorOf(loadNpyDir(dir));
    expect(e.message).toContain("truncated");
    expect(e.message).toContain(`${full.length.toLocaleString("en-US")} bytes`);
    await Bun.write(path, new Uint8Array([...full, 0]));
    expect((await dataErrorOf(loadNpyDir(dir))).message).toContain("unexpected trailing data");
  });

  test("unsupported dtypes, shapes and values are refused with what to save instead", async () => {
    const cases: [string, Uint8Array, string][] = [
      [NPY_FILES.trainImages, npy("<U3", [8], new Uint8Array(8 * 12)), "'<U3' is not supported"],
      [NPY_FILES.trainImages, array("|b1", [8, C, H, W], new Array(8 * C * H * W).fill(1)), "booleans"],
      [NPY_FILES.trainImages, array("|u1", [8, 4, H, W], new Array(8 * 4 * H * W).fill(1)), "neither axis 1 (NCHW) nor axis 3 (NHWC)"],
      [NPY_FILES.trainImages, array("|u1", [8, 3, 4, 3], new Array(8 * 36).fill(1)), "ambiguous"],
      [NPY_FILES.trainImages, array("|u1", [8, H * W * C], new Array(8 * H * W * C).fill(1)), "expected (N, C, H, W)"],
      [NPY_FILES.trainImages, array("<f4", [8, C, H, W], [-0.5, ...new Array(8 * C * H * W - 1).fill(0)]), "pixel -0.5 at flat index 0 is outside [0, 255]"],
      [NPY_FILES.trainImages, array("<i2", [8, C, H, W], [0, 300, ...new Array(8 * C * H * W - 2).fill(0)]), "pixel 300 at flat index 1 is outside 0..255"],
      [NPY_FILES.trainLabels, array("<f8", [8], [0, 1, 2, 3, 0, 1, 2, 3]), "astype(numpy.int64)"],
      [NPY_FILES.trainLabels, array("<i8", [8, 4], new Array(32).fill(0)), "argmax(1)"],
      [NPY_FILES.trainLabels, npy("", [], bytesOf("<i8", [0]), { dict: "{'descr': '<i8', 'shape': (8,)}" }), "lacks 'descr', 'fortran_order' or 'shape'"],
      [NPY_FILES.trainLabels, npy("", [], bytesOf("<i8", [0]), { dict: "{'descr': '<i8', 'fortran_order': False, 'shape': (8,), " }), "unreadable .npy header"],
    ];
    for (const [file, bytes, message] of cases) {
      const dir = await fresh(`bad-${cases.findIndex((c) => c[2] === message)}`);
      await Bun.write(join(dir, file), bytes);
      const e = await dataErrorOf(loadNpyDir(dir));
      expect(e.message).toContain(join(dir, file));
      expect(e.message).toContain(message);
    }
  });
});

// ---- Wiring: resolveDataset, the training config, loadData

describe("dataset npy through resolveDataset and the training config", () => {
  test("resolveDataset loads it, applies padTo and class-balanced limits", async () => {
    const dataDir = await writeDir("resolve", { layout: "NHWC" });
    const ds = await resolveDataset({ dataset: "npy", dataDir, padTo: 1, trainLimit: 4, subsetSeed: 2 });
    expect([ds.name, ds.train.count, ds.test.count, ds.height]).toEqual(["npy", 4, 4, H]);
    expect(classCounts(ds.train, 4)).toEqual([1, 1, 1, 1]);
    expect(ds.source).toContain("balanced subset");
  });

  test("npy without dataDir says which setting and files are needed", async () => {
    const e = await dataErrorOf(resolveDataset({ dataset: "npy" }));
    expect(e.message).toContain("data.dataDir");
    expect(e.message).toContain("train_images.npy");
  });

  test("auto with a dataDir of .npy files picks them and says so", async () => {
    const dataDir = await writeDir("auto");
    const lines: string[] = [];
    const ds = await resolveDataset({ dataset: "auto", dataDir, padTo: 1, log: (l) => lines.push(l) });
    expect(ds.name).toBe("npy");
    expect(lines).toEqual([`data: auto → .npy files from --data-dir ${dataDir}`]);
  });

  test("nominalTrainCount reads the count from the header", async () => {
    const dataDir = await writeDir("nominal");
    expect(nominalTrainCount("npy", undefined, dataDir)).toBe(COUNTS[0]!);
    expect(nominalTrainCount("npy", 3, dataDir)).toBe(3);
    expect(nominalTrainCount("npy")).toBe(50_000);
  });

  test("--set data.dataset=npy data.dataDir=... validates, and loadData + modelFor use the files", async () => {
    const dataDir = await writeDir("config", { layout: "NHWC", imageDescr: "<f4", scale: (v) => v / 255 });
    const cfg = loadPresetConfig<TrainingConfig>("train", "training", "smoke", ["data.dataset=npy", `data.dataDir=${dataDir}`]);
    expect([cfg.data.dataset, cfg.data.dataDir, cfg.data.padTo]).toEqual(["npy", dataDir, 32]);
    const ds = await loadData(cfg);
    expect([ds.name, ds.channels, ds.height, ds.width, ds.numClasses, ds.train.count]).toEqual(["npy", C, 32, 32, 4, COUNTS[0]!]);
    const spec = modelFor(cfg, ds);
    expect(spec.inputShape).toEqual([C, 32, 32]);
  });

  test("the schema refuses an unknown dataset name and lists npy", () => {
    expect(() => loadPresetConfig<TrainingConfig>("train", "training", "smoke", ["data.dataset=npz"])).toThrow(/npy/);
  });
});
