/**
 * Findings for CI: GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=rule::message`,
 * shown as annotations on the pull request) and SARIF 2.1.0 (GitHub code scanning and other viewers).
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ALL_RULES } from './rules.js';
import type { LintSummary } from './report.js';
import type { Finding } from './types.js';

export const FORMATS = ['text', 'json', 'github', 'sarif'] as const;
export type LintFormat = (typeof FORMATS)[number];

/** The format asked for; else GitHub's when running in GitHub Actions with stdout not a terminal; else text. */
export function chooseFormat(asked: string | undefined, json: boolean, env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): LintFormat {
  if (asked !== undefined) return asked as LintFormat;
  if (json) return 'json';
  return env['GITHUB_ACTIONS'] === 'true' && !stdoutIsTTY ? 'github' : 'text';
}

// GitHub's escaping for workflow commands: the message, and (stricter) property values.
const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const property = (s: string) => data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function formatGithub(result: LintSummary): string {
  const lines = result.findings.map((f) => {
    const where = `file=${property(f.file)},line=${f.line},col=${f.col},title=${property(f.rule)}`;
    return `::${f.level} ${where}::${data(`${f.message}\n\n${f.why}\nfix: ${f.recipe}`)}`;
  });
  const errors = result.findings.filter((f) => f.level === 'error').length;
  const warnings = result.findings.length - errors;
  lines.push(...result.notes, `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'} in ${result.linted} migration file${result.linted === 1 ? '' : 's'}`);
  return lines.join('\n');
}

/** A SARIF 2.1.0 log: one run, every rule lint knows (with why and fix as help), one result per finding. */
export function formatSarif(findings: readonly Finding[]): string {
  const rules = ALL_RULES.map((r) => ({
    id: r.id,
    name: r.id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
    shortDescription: { text: firstSentence(r.why) },
    fullDescription: { text: r.why },
    help: { text: `${r.why}\nFix: ${r.recipe}`, markdown: `${r.why}\n\n**Fix:** ${r.recipe}` },
    defaultConfiguration: { level: r.level },
    properties: { tags: ['sql', 'migration', r.source], ...(r.harm ? { blocking: true } : {}) },
  }));
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results = findings.map((f) => ({
    ruleId: f.rule,
    ...(index.has(f.rule) ? { ruleIndex: index.get(f.rule)! } : {}),
    level: f.level,
    message: { text: f.message },
    locations: [{ physicalLocation: { artifactLocation: artifact(f.file), region: { startLine: f.line, startColumn: f.col } } }],
  }));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'sqlmig', rules } }, columnKind: 'utf16CodeUnits', results }],
  };
  return JSON.stringify(log, null, 2);
}

/** A relative path as a URI against the checkout (%SRCROOT%), an absolute one as a file: URI. */
function artifact(file: string): { uri: string; uriBaseId?: string } {
  if (isAbsolute(file)) return { uri: pathToFileURL(file).href };
  return { uri: file.split(/[\\/]/).map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' };
}

function firstSentence(text: string): string {
  const end = text.search(/[.:](\s|$)/);
  return end === -1 ? text : text.slice(0, end + 1).replace(/:$/, '.');
}
