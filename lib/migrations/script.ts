/**
 * A migration file made ready to run: checked, split into statements, located for error messages.
 * `prepareScript` is the one place that decides whether a file can run; every command that runs
 * or checks files goes through it, so they all apply the same rules.
 */
import { Refused } from '../errors.js';
import type { Direction } from './files.js';
import { createdExtensions, findClientOnly, loadParser, splitStatements, type ClientOnly, type ParseTree, type Statement } from './sql.js';

export interface Script {
  /** What to print in messages: the file's path as the user would type it. */
  path: string;
  text: string;
  /**
   * null when the parser rejected the text; it is then sent whole and the server reports where.
   * Empty for a down that does nothing (empty or comments only): reverting it only deletes its history row.
   */
  statements: Statement[] | null;
  transactional: boolean;
  /**
   * The parse tree, kept only when the caller asked (`keepTree`: up keeps it for its lint hook, so each
   * file is parsed once per run); whoever reads it drops it, so a long run does not hold every tree.
   */
  tree?: ParseTree;
}

export interface ScriptSource {
  path: string;
  text: string;
  noTransaction: boolean;
  direction: Direction;
  keepTree?: boolean;
}

export async function prepareScript(source: ScriptSource): Promise<Script> {
  const lib = await loadParser();
  const { statements, syntaxError, tree } = splitStatements(lib, source.text, { keepTree: source.keepTree });
  if (statements === null) {
    const clientOnly = findClientOnly(lib, source.text, syntaxError!.offset);
    if (clientOnly) throw new Refused(clientOnlyMessage(source.path, clientOnly));
  } else {
    const copy = statements.find((s) => s.copy);
    if (copy) throw new Refused(clientOnlyMessage(source.path, { what: 'copy', copy: copy.copy!, ...copy }));
    checkTransactionControl(source, statements);
    if (!source.noTransaction) refuseOutsideTransactionOnly(source, statements);
    if (statements.length === 0 && source.direction === 'up') {
      throw new Refused(`${source.path}: no SQL statement in it (empty, or comments only). Write the migration, or delete the file if it was created by mistake; a placeholder meant to do nothing (kept for its number) needs a statement that does nothing, such as \`select 1;\`.`);
    }
  }
  return { path: source.path, text: source.text, statements, transactional: !source.noTransaction, ...(tree ? { tree } : {}) };
}

/** A down with no statement (empty or comments only): it reverts nothing but its history row. */
export function isNoOp(script: Script): boolean {
  return script.statements !== null && script.statements.length === 0;
}

export function scriptExtensions(script: Script): string[] {
  return script.statements ? createdExtensions(script.statements) : [];
}

function clientOnlyMessage(path: string, found: ClientOnly): string {
  const at = `${path}:${found.line}:${found.column}`;
  if (found.what === 'meta-command') {
    return `${at}: psql meta-command ${found.command} is not SQL; sqlmig sends files to the server as they are. Inline the SQL instead.`;
  }
  const moves = found.copy === 'from stdin' ? 'COPY … FROM STDIN reads its rows from the client' : 'COPY … TO STDOUT sends its rows to the client';
  return `${at}: ${moves}, and sqlmig sends only SQL (rows and a \`\\.\` after it are psql input): use \\copy in psql, or INSERT … SELECT / INSERT … VALUES`;
}

/**
 * PostgreSQL refuses some statements inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, …), and
 * sqlmig runs this file in one: it would fail when its turn came, after the migrations before it were applied.
 */
function refuseOutsideTransactionOnly(source: ScriptSource, statements: Statement[]): void {
  const [first, ...rest] = statements.filter((s) => s.outsideTransaction);
  if (!first) return;
  const also = rest.length ? ` (also ${rest.map((s) => `${s.outsideTransaction} at line ${s.line}`).join(', ')})` : '';
  throw new Refused(`${source.path}:${first.line}:${first.column}: ${first.outsideTransaction} cannot run inside a transaction block${also}, and sqlmig runs this file in one. ` +
    'Make `-- sqlmig:no-transaction` its first line (each statement then commits on its own: keep such a statement in a migration of its own)' +
    `${/CONCURRENTLY/.test(first.outsideTransaction!) ? ', or leave out CONCURRENTLY' : ''}.`);
}

const OPENS = new Set(['begin', 'start']);
const CLOSES = new Set(['commit', 'rollback', 'prepare']);
const LABELS: Record<string, string> = {
  begin: 'BEGIN', start: 'START TRANSACTION', savepoint: 'SAVEPOINT', release: 'RELEASE', rollback_to: 'ROLLBACK TO',
  prepare: 'PREPARE TRANSACTION', commit_prepared: 'COMMIT PREPARED', rollback_prepared: 'ROLLBACK PREPARED',
};

/** "COMMIT", "END", "ROLLBACK TO", …: as the file writes it where there are synonyms. */
function transactionLabel(s: Statement): string {
  return LABELS[s.transaction!] ?? /^\w+/.exec(s.sql)?.[0]?.toUpperCase() ?? s.transaction!.toUpperCase();
}

/**
 * A file sqlmig runs in a transaction must not control it (its COMMIT would end sqlmig's transaction
 * early and commit half a migration). A no-transaction file may, when every BEGIN is closed.
 */
function checkTransactionControl(source: ScriptSource, statements: Statement[]): void {
  const control = statements.filter((s) => s.transaction);
  if (control.length === 0) return;
  const at = (s: Statement) => `${source.path}:${s.line}:${s.column}`;
  if (!source.noTransaction) {
    const [first, ...rest] = control;
    const also = rest.length ? ` (also ${rest.map((s) => `${transactionLabel(s)} at line ${s.line}`).join(', ')})` : '';
    throw new Refused(`${at(first!)}: ${transactionLabel(first!)} controls the transaction${also}; remove them: sqlmig wraps each file in a transaction, or use \`-- sqlmig:no-transaction\``);
  }
  let open: Statement | null = null;
  const unclosed = (begin: Statement, where: string) => new Refused(
    `${at(begin)}: ${transactionLabel(begin)} is not closed ${where}; end it with COMMIT (or ROLLBACK) in this file, or remove the transaction control and the \`-- sqlmig:no-transaction\` line to let sqlmig wrap the file in a transaction`);
  for (const s of control) {
    if (OPENS.has(s.transaction!)) {
      if (open) throw unclosed(open, `before the next ${transactionLabel(s)} at line ${s.line}`);
      open = s;
    } else if (CLOSES.has(s.transaction!)) {
      open = null;
    }
  }
  if (open) throw unclosed(open, 'by the end of the file');
}
