/**
 * The ```console blocks of a Markdown file, run as written: each `$ command` (a `<<'EOF'` here-document
 * goes with it) runs in bash in one folder, `npx sqlmig` being this checkout's bin/sqlmig, and what it
 * prints (stdout and stderr, as a terminal shows them) must be the lines under it. Durations and times
 * differ from run to run, and the folder's path is shown as `placeholder`; both are normalised.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { binPath, cleanEnv } from './helpers.js';

export interface ConsoleStep { command: string; expected: string[]; line: number }

/** The steps of every ```console block between two headings (or of the whole file). */
export function consoleSteps(markdown: string, from?: RegExp, to?: RegExp): ConsoleStep[] {
  const lines = markdown.split('\n');
  const start = from ? lines.findIndex((l) => from.test(l)) : 0;
  const end = to ? lines.findIndex((l, i) => i > start && to.test(l)) : -1;
  const steps: ConsoleStep[] = [];
  let inBlock = false;
  for (let i = Math.max(start, 0); i < (end === -1 ? lines.length : end); i++) {
    const line = lines[i]!;
    if (!inBlock) {
      inBlock = line.trim() === '```console';
      continue;
    }
    if (line.trim() === '```') {
      inBlock = false;
      continue;
    }
    if (line.startsWith('$ ')) {
      let command = line.slice(2);
      const here = /<<'?(\w+)'?/.exec(command);
      if (here) {
        while (++i < lines.length && lines[i] !== here[1]) command += `\n${lines[i]}`;
        command += `\n${here[1]}`;
      }
      steps.push({ command, expected: [], line: i + 1 });
    } else if (steps.length) {
      steps[steps.length - 1]!.expected.push(line);
    }
  }
  return steps;
}

export function readSteps(file: string, from?: RegExp, to?: RegExp): ConsoleStep[] {
  return consoleSteps(readFileSync(file, 'utf8'), from, to);
}

export function normalise(text: string, cwd: string, placeholder: string): string[] {
  return text.split(cwd).join(placeholder)
    .replace(/\d+ ms\b/g, 'N ms')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/g, 'YYYY-MM-DD HH:MM:SSZ')
    .split('\n')
    .filter((l) => !/^creating the embedded database/.test(l))
    .map((l) => l.trimEnd())
    .filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** Runs one step; resolves to its output lines, normalised. */
export function runStep(step: ConsoleStep, cwd: string, placeholder: string, env: Record<string, string> = {}): Promise<string[]> {
  const npx = `npx() { if [ "$1" = sqlmig ]; then shift; "${process.execPath}" "${binPath}" "$@"; else command npx "$@"; fi; }`;
  return new Promise((resolve) => {
    execFile('bash', ['-c', `${npx}\n{\n${step.command}\n} 2>&1`], { cwd, env: cleanEnv(env), maxBuffer: 16 * 1024 * 1024 }, (_error, stdout) => {
      resolve(normalise(stdout, cwd, placeholder));
    });
  });
}

export function expectedLines(step: ConsoleStep): string[] {
  return normalise(step.expected.join('\n'), '\0', '');
}
