// Preloaded by the benchmark: report the process's peak RSS on exit (kilobytes on Linux).
import { writeSync } from 'node:fs';
process.on('exit', () => writeSync(2, `\nsqlmig-bench-maxrss-kb ${process.resourceUsage().maxRSS}\n`));
