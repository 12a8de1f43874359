/**
 * The files of a dataset that ships as many small files (Tiny-ImageNet's JPEGs, an
 * ImageFolder tree), read the same way from a zip archive (yauzl: reads the central
 * directory, then one entry at a time, so memory stays at one image) or from a folder.
 * Paths are relative, with "/" separators.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import yauzl from "yauzl";
import { DataError } from "./errors.ts";

export interface FileSource {
  /** The archive or folder, for messages. */
  where: string;
  /** Every file's relative path (no folders). */
  paths(): string[];
  read(path: string): Promise<Uint8Array>;
  close(): void;
}

export async function zipSource(path: string): Promise<FileSource> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (e) {
    throw new DataError(`${path}: not a readable zip archive (${(e as Error).message}); delete it and download it again.`, path);
  }
  const entries = new Map<string, yauzl.Entry>();
  for await (const entry of zip.eachEntry()) if (!entry.fileName.endsWith("/")) entries.set(entry.fileName, entry);
  return {
    where: path,
    paths: () => [...entries.keys()],
    read: async (p) => {
      const entry = entries.get(p);
      if (!entry) throw new DataError(`${path}: has no entry ${p}`, path);
      const chunks: Buffer[] = [];
      try {
        for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      } catch (e) {
        throw new DataError(`${path}: entry ${p} is damaged (${(e as Error).message}); delete the archive and download it again.`, path);
      }
      const b = Buffer.concat(chunks);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    close: () => zip.close(),
  };
}

export function dirSource(root: string): FileSource {
  const walk = (dir: string, out: string[]): string[] => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full, out);
      else out.push(relative(root, full).split(sep).join("/"));
    }
    return out;
  };
  let listed: string[] | null = null;
  return {
    where: root,
    paths: () => (listed ??= walk(root, [])),
    read: async (p) => {
      const b = readFileSync(join(root, ...p.split("/")));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    close: () => {},
  };
}
