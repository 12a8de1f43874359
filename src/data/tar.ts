/**
 * Minimal reader for (ustar/GNU/pax) tar archives, enough to unpack the CIFAR-10 tarball
 * without a dependency. Only regular files and directories are extracted; links and devices
 * are skipped because a dataset archive has no business containing them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { isAbsolute, join, normalize, sep } from "node:path";
import { DataError } from "./errors.ts";

const BLOCK = 512;
const decoder = new TextDecoder();

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** Octal ASCII, or GNU base-256 (high bit set) for sizes over 8 GiB. */
function parseNumber(field: Uint8Array): number {
  if (field[0]! & 0x80) {
    let v = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return v;
  }
  const s = cString(field).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function checksumOk(header: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === parseNumber(header.subarray(148, 156));
}

function paxPath(data: Uint8Array): string | undefined {
  // Records are "<len> key=value\n"; only the path matters here.
  for (const line of decoder.decode(data).split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

function safeJoin(root: string, name: string, archive: string): string {
  const rel = normalize(name);
  if (isAbsolute(rel) || rel === ".." || rel.startsWith(`..${sep}`)) {
    throw new DataError(
      `${archive}: archive entry "${name}" would extract outside the target directory; refusing — the archive is not a genuine dataset tarball, delete it and re-download.`,
      archive,
    );
  }
  return join(root, rel);
}

/**
 * Extracts an uncompressed tar image into `destDir`; returns the relative paths of the files
 * written. `archive` is only used to name the file in error messages.
 */
export function extractTar(tar: Uint8Array, destDir: string, archive: string): string[] {
  const written: string[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    if (!checksumOk(header)) {
      throw new DataError(`${archive}: tar header checksum mismatch at byte ${offset}; the archive is corrupt — delete it and re-download.`, archive);
    }
    const size = parseNumber(header.subarray(124, 136));
    const type = String.fromCharCode(header[156]!);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) {
      throw new DataError(
        `${archive}: tar entry at byte ${offset} claims ${size} bytes but the archive ends at ${tar.length}; it is truncated — delete it and re-download.`,
        archive,
      );
    }
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === "L") {
      longName = cString(data);
      continue;
    }
    if (type === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === "g") continue;

    const isUstar = cString(header.subarray(257, 263)).startsWith("ustar");
    const prefix = isUstar ? cString(header.subarray(345, 500)) : "";
    const base = cString(header.subarray(0, 100));
    const name = longName ?? (prefix ? `${prefix}/${base}` : base);
    longName = undefined;

    if (type === "5") {
      mkdirSync(safeJoin(destDir, name, archive), { recursive: true });
    } else if (type === "0" || type === "\0" || type === "7") {
      const path = safeJoin(destDir, name, archive);
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, data);
      written.push(normalize(name));
    }
  }
  return written;
}
