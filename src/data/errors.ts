/**
 * Every data-loading failure surfaces as a DataError so the CLI can print the message
 * alone (no stack): the message always names the offending file or directory and the fix.
 */
export class DataError extends Error {
  override readonly name = "DataError";
  /** The file or directory the problem is about, for callers that want to show it separately. */
  readonly path: string | undefined;

  constructor(message: string, path?: string) {
    super(message);
    this.path = path;
  }
}

/** Byte counts in messages are easier to compare with `ls -l` output when exact, not rounded. */
export function describeSize(bytes: number): string {
  return `${bytes.toLocaleString("en-US")} bytes`;
}
