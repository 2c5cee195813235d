/** Pure: verify's result as JUnit XML for CI test reports — one test case per migration round trip. */
import type { VerifyFinding, VerifyResult } from '../commands/verify.js';

const ERROR_WORD: Record<NonNullable<VerifyFinding['error']>['step'], string> = {
  up: 'its up failed', down: 'its down failed', 'up again': 'applying it again after its down failed', schema: 'its round trip could not be completed',
};

export function formatJunit(result: VerifyResult): string {
  const count = (status: VerifyFinding['status']) => result.findings.filter((f) => f.status === status).length;
  const failed = count('failed');
  const skipped = count('skipped') + count('not-run');
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const cases = result.findings.map((f) => {
    const head = `    <testcase classname="sqlmig.verify" name="${xml(`${f.version}_${f.name}`)}" time="${seconds(f.durationMs)}"`;
    if (f.status === 'round-trips') return `${head}/>`;
    if (f.status !== 'failed') return `${head}>\n      <skipped message="${xml(f.reason ?? f.status)}"/>\n    </testcase>`;
    const message = f.error ? ERROR_WORD[f.error.step] : 'its down does not restore the schema from before its up';
    const details = [...f.differences.map((d) => `- ${d.message}`), ...(f.error ? [f.error.message] : [])].join('\n');
    return `${head}>\n      <failure message="${xml(message)}" type="${f.error ? 'error' : 'schema-difference'}">${xml(details)}</failure>\n    </testcase>`;
  });
  const totals = `tests="${result.findings.length}" failures="${failed}" errors="0" skipped="${skipped}" time="${seconds(result.durationMs)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="sqlmig verify" ${totals}>`,
    `  <testsuite name="sqlmig verify" ${totals}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
  ].join('\n');
}

/** Text and attribute values; characters XML 1.0 cannot hold at all are dropped. */
function xml(s: string): string {
  return s.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
