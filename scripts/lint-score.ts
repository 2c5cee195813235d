/** Precision and recall of lint on the labelled set in test/fixtures/lint (`node --import tsx scripts/lint-score.ts [-v]`). */
import { differences, runCases, score } from '../test/support/lint-cases.js';

const results = await runCases();
const s = score(results);
const pct = (x: number) => x.toFixed(2);
process.stdout.write(`${results.length} cases, ${s.expected} expected findings, ${s.found} found\n`);
process.stdout.write(`rule and line: precision ${pct(s.precision)}, recall ${pct(s.recall)}\n`);
process.stdout.write(`rule, line and level: precision ${pct(s.levelPrecision)}, recall ${pct(s.levelRecall)}\n`);
if (process.argv.includes('-v')) process.stdout.write(differences(results).join('\n') + '\n');
