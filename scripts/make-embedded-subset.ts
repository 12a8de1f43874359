#!/usr/bin/env bun
/**
 * Writes data/fashion-mnist-subset: a class-balanced, seeded subset of Fashion-MNIST
 * (500 train + 200 test images per class) taken from Debian's dataset-fashion-mnist, in the
 * original gzipped IDX format, plus a README recording provenance. Re-running with the same
 * source files and seed reproduces the files byte for byte.
 *
 *   bun scripts/make-embedded-subset.ts [--src DIR] [--out DIR] [--seed N]
 */
import { Command, InvalidArgumentError } from "commander";
import { withVersion } from "../src/cli/common.ts";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, findIdxFile, loadFashionMnistDir } from "../src/data/fashion-mnist.ts";
import { EMBEDDED_SUBSET_DIR } from "../src/data/embedded.ts";
import { DataError } from "../src/data/errors.ts";
import { encodeIdxImages, encodeIdxLabels, gzip } from "../src/data/idx.ts";
import { balancedSubset, classCounts } from "../src/data/subset.ts";

const TRAIN_PER_CLASS = 500;
const TEST_PER_CLASS = 200;
const DEFAULT_SEED = 20170825; // Fashion-MNIST's arXiv release date; any fixed value would do.

const opts = withVersion(new Command("make-embedded-subset"))
  .description("rebuild data/fashion-mnist-subset from Debian's dataset-fashion-mnist (data:make-subset)")
  .option("--src <dir>", "directory holding the Fashion-MNIST IDX files", DEBIAN_FASHION_MNIST_DIR)
  .option("--out <dir>", "directory the subset and its README are written to", EMBEDDED_SUBSET_DIR)
  .option(
    "--seed <n>",
    "seed of the training split's draw (the test split uses seed + 1)",
    (v: string) => {
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError("expected an integer");
      return Number(v);
    },
    DEFAULT_SEED,
  )
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0 before anything is read or written.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ src: string; out: string; seed: number }>();
const { src, out, seed } = opts;

const ds = await loadFashionMnistDir(src).catch((e: unknown) => {
  // A missing or bad source directory is the user's to fix: its message, exit 2, no stack.
  if (!(e instanceof DataError)) throw e;
  console.error(`error: ${e.message.split("; ")[0]} (give the directory with --src)`);
  return process.exit(2);
});
const numClasses = ds.numClasses;
const train = balancedSubset(ds.train, TRAIN_PER_CLASS * numClasses, numClasses, seed);
// A distinct seed per split keeps the two draws independent.
const test = balancedSubset(ds.test, TEST_PER_CLASS * numClasses, numClasses, seed + 1);

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
mkdirSync(out, { recursive: true });
const files: [string, Uint8Array][] = [
  [FASHION_MNIST_FILES.trainImages, encodeIdxImages(train.images, train.count, ds.height, ds.width)],
  [FASHION_MNIST_FILES.trainLabels, encodeIdxLabels(Uint8Array.from(train.labels))],
  [FASHION_MNIST_FILES.testImages, encodeIdxImages(test.images, test.count, ds.height, ds.width)],
  [FASHION_MNIST_FILES.testLabels, encodeIdxLabels(Uint8Array.from(test.labels))],
];
const rows: string[] = [];
let totalBytes = 0;
for (const [base, raw] of files) {
  const gz = gzip(raw);
  await Bun.write(join(out, `${base}.gz`), gz);
  totalBytes += gz.length;
  const srcPath = findIdxFile(src, base);
  const srcHash = srcPath ? sha256(new Uint8Array(await Bun.file(srcPath).arrayBuffer())) : "(not found)";
  rows.push(`| \`${base}.gz\` | ${gz.length} | \`${sha256(gz)}\` | \`${srcHash}\` |`);
}

// Recorded so the README pins the exact upstream snapshot; absent off Debian.
const dpkg = Bun.which("dpkg-query") ? Bun.spawnSync(["dpkg-query", "-W", "-f", "${Version}", "dataset-fashion-mnist"]) : null;
const debianVersion = dpkg?.exitCode === 0 ? dpkg.stdout.toString().trim() : "";

const perClass = (counts: number[]) => counts.map((n, c) => `${FASHION_MNIST_CLASSES[c]}: ${n}`).join(", ");
const readme = `# Embedded Fashion-MNIST subset

A small, class-balanced subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist)
committed to this repository so the harness can train and run its tests offline, without
CIFAR-10 and without system packages. Load it with \`--dataset fashion-mnist-embedded\`
(or \`loadEmbeddedFashionMnist()\` from \`src/data\`); \`--dataset auto\` falls back to it when
CIFAR-10 is neither cached nor downloadable.

## Contents

- ${train.count} training images (${TRAIN_PER_CLASS} per class) drawn from the 60,000-image training set.
- ${test.count} test images (${TEST_PER_CLASS} per class) drawn from the 10,000-image test set.
- 28x28 greyscale, 10 classes, in the original gzipped IDX format and file names.
- Train per class: ${perClass(classCounts(train, numClasses))}.
- Test per class: ${perClass(classCounts(test, numClasses))}.

| file | bytes | sha256 | sha256 of the source file it was drawn from |
| --- | --- | --- | --- |
${rows.join("\n")}

## Provenance

- Source: Debian package \`dataset-fashion-mnist\`${debianVersion ? ` version \`${debianVersion}\`` : ""} (files in \`${src}\`), which
  packages Zalando Research's Fashion-MNIST (github.com/zalandoresearch/fashion-mnist).
- Generated by \`bun scripts/make-embedded-subset.ts\` with seed ${seed} for the training split and
  ${seed + 1} for the test split. Within each class, images are chosen by a seeded permutation
  (\`src/util/rng.ts\`, stream \`"balanced-subset"\`); chosen images keep their original relative order.
- Re-running the script against the same source files reproduces these files byte for byte.

## Licence

Fashion-MNIST is Copyright (c) 2017 Zalando SE, https://tech.zalando.com, and is distributed
under the MIT licence (Debian: "Expat"):

> Permission is hereby granted, free of charge, to any person obtaining a copy of this software
> and associated documentation files (the "Software"), to deal in the Software without restriction,
> including without limitation the rights to use, copy, modify, merge, publish, distribute,
> sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
> furnished to do so, subject to the following conditions:
>
> The above copyright notice and this permission notice shall be included in all copies or
> substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
> NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
> NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
> DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
> OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;
await Bun.write(join(out, "README.md"), readme);
console.log(`wrote ${train.count} train + ${test.count} test images to ${relative(process.cwd(), out) || "."} (${totalBytes} bytes gzipped)`);
