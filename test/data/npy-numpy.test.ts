/**
 * .npy files written by NumPy itself, when a python3 with numpy is on this machine (else
 * skipped with a message; npy-reader.test.ts covers the format with files built byte by byte).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadNpyDir, parseNpy } from "../../src/data/index.ts";
import { dataErrorOf, makeTempDir } from "../fixtures/data-fixtures.ts";

function findNumpyPython(): string | null {
  for (const python of [process.env["PYTHON"], "python3", "/usr/bin/python3"]) {
    if (!python) continue;
    try {
      if (Bun.spawnSync([python, "-c", "import numpy"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0) return python;
    } catch {
      // Not installed: try the next one.
    }
  }
  return null;
}

const python = findNumpyPython();
if (!python) console.log("npy-numpy.test.ts: skipped, no python3 with numpy found (set $PYTHON to one that has it)");

const tmp = makeTempDir("npy-numpy-");
afterAll(tmp.cleanup);

/** Runs a numpy script with `d` bound to the output directory. */
function numpy(dir: string, script: string): void {
  const r = Bun.spawnSync([python!, "-c", `import os, numpy as np\nd = ${JSON.stringify(dir)}\nos.makedirs(d, exist_ok=True)\n${script}`], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`python failed: ${r.stderr.toString()}`);
}

// Images that differ in every pixel, labels 0..9; `ref.bin` holds the expected NCHW uint8 bytes.
const DATASET = `
rng = np.random.default_rng(0)
tr = rng.integers(0, 256, size=(30, 8, 9, 3), dtype=np.uint8)
te = rng.integers(0, 256, size=(10, 8, 9, 3), dtype=np.uint8)
ytr = np.arange(30) % 10
yte = (np.arange(10) * 3) % 10
open(os.path.join(d, 'ref.bin'), 'wb').write(np.ascontiguousarray(np.concatenate([tr, te]).transpose(0, 3, 1, 2)).tobytes())
`;

describe.skipIf(!python)("files written by numpy", () => {
  test("uint8 NHWC + int64 labels (Keras style) and float32 NCHW in [0, 1] + uint8 (N, 1) labels (PyTorch style) load identically", async () => {
    const keras = join(tmp.dir, "keras");
    numpy(
      keras,
      DATASET +
        `
np.save(os.path.join(d, 'train_images.npy'), tr)
np.save(os.path.join(d, 'test_images.npy'), te)
np.save(os.path.join(d, 'train_labels.npy'), ytr.astype(np.int64))
np.save(os.path.join(d, 'test_labels.npy'), yte.astype(np.int64))
`,
    );
    const torch = join(tmp.dir, "torch");
    numpy(
      torch,
      DATASET +
        `
np.save(os.path.join(d, 'train_images.npy'), tr.transpose(0, 3, 1, 2).astype(np.float32) / 255)
np.save(os.path.join(d, 'test_images.npy'), np.ascontiguousarray(te.transpose(0, 3, 1, 2)).astype(np.float32) / 255)
np.save(os.path.join(d, 'train_labels.npy'), ytr.astype(np.uint8)[:, None])
with open(os.path.join(d, 'test_labels.npy'), 'wb') as f:
    np.lib.format.write_array(f, yte.astype(np.int32), version=(2, 0))
`,
    );
    const ref = await Bun.file(join(keras, "ref.bin")).bytes();
    const a = await loadNpyDir(keras);
    const b = await loadNpyDir(torch);
    expect([a.channels, a.height, a.width, a.numClasses, a.train.count, a.test.count]).toEqual([3, 8, 9, 10, 30, 10]);
    expect(Array.from(a.train.images)).toEqual(Array.from(ref.subarray(0, 30 * 216)));
    expect(Array.from(a.test.images)).toEqual(Array.from(ref.subarray(30 * 216)));
    expect(Array.from(a.test.labels)).toEqual([0, 3, 6, 9, 2, 5, 8, 1, 4, 7]);
    expect(b.train).toEqual(a.train);
    expect(b.test).toEqual(a.test);
    expect(parseNpy(await Bun.file(join(torch, "test_labels.npy")).bytes(), "t").version).toBe("2.0");
  });

  test("numpy's Fortran-ordered and big-endian arrays are refused", async () => {
    const dir = join(tmp.dir, "refused");
    numpy(
      dir,
      DATASET +
        `
np.save(os.path.join(d, 'train_images.npy'), np.asfortranarray(tr))
np.save(os.path.join(d, 'test_images.npy'), te)
np.save(os.path.join(d, 'train_labels.npy'), ytr)
np.save(os.path.join(d, 'test_labels.npy'), yte.astype('>i8'))
`,
    );
    expect((await dataErrorOf(loadNpyDir(dir))).message).toContain("Fortran");
    numpy(dir, DATASET + `np.save(os.path.join(d, 'train_images.npy'), tr)`);
    expect((await dataErrorOf(loadNpyDir(dir))).message).toContain("big-endian");
  });
});
