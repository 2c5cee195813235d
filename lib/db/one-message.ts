/**
 * A migration's statements sent as one simple-protocol message (`BEGIN; s1; s2; …`) instead of one
 * message each: the server parses and runs them in order, stops at the first error and leaves the
 * transaction aborted, so nothing of it can commit. What it no longer says is which statement failed:
 * an error's `position` counts from the start of the whole message, so it is mapped back to its
 * statement here; an error without a position (division by zero, a violated constraint) is found by
 * running the statements again one by one, in a transaction that is rolled back.
 */

export interface OneMessage {
  text: string;
  /** Where each statement starts in `text` (UTF-16 offsets), in order. */
  starts: number[];
}

/**
 * The opening (BEGIN and settings, or nothing), then each statement on its own. The separator starts with a line
 * break, so a statement ending in a `--` comment (the parser keeps it on the last one) cannot hide it.
 */
export function oneMessage(opening: string, statements: readonly string[]): OneMessage {
  const parts = opening ? [`${opening};\n`] : [];
  const starts: number[] = [];
  let length = parts[0]?.length ?? 0;
  for (const statement of statements) {
    starts.push(length);
    parts.push(statement, '\n;\n');
    length += statement.length + 3;
  }
  return { text: parts.join(''), starts };
}

/**
 * The failing statement's index and the error's position within that statement (as the server would
 * have given it for the statement alone), or null when the error has no position or points at the opening.
 */
export function locateInMessage(message: OneMessage, position: unknown): { index: number; position: number } | null {
  const at = Number(position);
  if (position === undefined || position === '' || !Number.isInteger(at) || at < 1) return null;
  // The server counts characters (code points) from 1; JavaScript strings count UTF-16 units.
  const offset = unitOffset(message.text, at - 1);
  if (offset === null) return null;
  let index = -1;
  for (let lo = 0, hi = message.starts.length - 1; lo <= hi;) {
    const mid = (lo + hi) >> 1;
    if (message.starts[mid]! <= offset) { index = mid; lo = mid + 1; } else hi = mid - 1;
  }
  if (index === -1) return null;
  return { index, position: codePoints(message.text, message.starts[index]!, offset) + 1 };
}

function unitOffset(text: string, codePointIndex: number): number | null {
  let units = 0;
  for (let n = 0; n < codePointIndex; n++) {
    if (units >= text.length) return null;
    units += text.codePointAt(units)! > 0xffff ? 2 : 1;
  }
  return units;
}

function codePoints(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i += text.codePointAt(i)! > 0xffff ? 2 : 1) n++;
  return n;
}
