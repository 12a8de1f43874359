/** One line per notice on stderr, so stdout stays for results. */
export const notice = (line: string): void => void process.stderr.write(`${line}\n`);
