/** `-- sqlmig:…` directives: SQL comments that change how sqlmig treats a file. */
export interface Directives {
  noTransaction: boolean;
  downNoTransaction: boolean;
  /** `-- sqlmig:online` / `-- sqlmig:offline`: run the file in its online form under `up`, or as written even under `up --online`. */
  online: boolean;
  offline: boolean;
  lintIgnores: { line: number; rule: string; reason: string }[];
  problems: string[];
}

const DIRECTIVE = /^\s*--\s*sqlmig:\s*([^\s:]*)(.*)$/;

export function readDirectives(text: string, file: string): Directives {
  const result: Directives = { noTransaction: false, downNoTransaction: false, online: false, offline: false, lintIgnores: [], problems: [] };
  if (!text.includes('sqlmig:')) return result; // most files have none: skip the line scan
  const lines = text.split('\n');
  let inLeadingBlock = true;
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const isComment = /^\s*--/.test(line);
    if (!isComment && line.trim() !== '') inLeadingBlock = false;
    const match = DIRECTIVE.exec(line);
    if (!match) return;
    const [, name, rest] = match as unknown as [string, string, string];
    if (name === 'no-transaction') {
      if (!inLeadingBlock) {
        result.problems.push(`${file}:${lineNo}: -- sqlmig:no-transaction must be in the comment block at the top of the file, before any SQL`);
      }
      result.noTransaction = true;
    } else if (name === 'online' || name === 'offline') {
      if (!inLeadingBlock) result.problems.push(`${file}:${lineNo}: -- sqlmig:${name} must be in the comment block at the top of the file, before any SQL`);
      result[name] = true;
      if (result.online && result.offline) result.problems.push(`${file}:${lineNo}: a file cannot be both -- sqlmig:online and -- sqlmig:offline`);
    } else if (name === 'lint-ignore') {
      const [rule, ...reason] = rest.trim().split(/\s+/);
      if (!rule) result.problems.push(`${file}:${lineNo}: -- sqlmig:lint-ignore needs a rule id and a reason`);
      else result.lintIgnores.push({ line: lineNo, rule, reason: reason.join(' ') });
    } else if (name !== 'destructive') { // `-- sqlmig: destructive: …` (written by diff) is a note for reviewers
      result.problems.push(`${file}:${lineNo}: unknown directive "-- sqlmig:${name}"; known: no-transaction, online, offline, lint-ignore, destructive`);
    }
  });
  return result;
}
