/**
 * The rows of the first markdown table whose header row starts with these column names
 * (one name: its first column), as cell strings (header and separator left out); []
 * when there is no such table.
 */
export function tableRows(md: string, header: string | string[]): string[][] {
  const want = typeof header === "string" ? [header] : header;
  const lines = md.split("\n");
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, "")
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  const at = lines.findIndex((l) => l.startsWith("|") && want.every((h, i) => cells(l)[i] === h));
  if (at < 0) return [];
  const rows: string[][] = [];
  for (let i = at + 2; i < lines.length && lines[i]!.startsWith("|"); i++) rows.push(cells(lines[i]!));
  return rows;
}
