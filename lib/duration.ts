import { UsageError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `2m`, `1h` or plain seconds → milliseconds. */
export function parseDuration(value: string | number, flag: string): number {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!match) {
    throw new UsageError(`${flag}: "${text}" is not a duration; use e.g. 500ms, 10s, 2m or plain seconds`);
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}
