/** A migration file made ready to run: checked, split into statements, located for error messages. */
import { Refused } from './errors.js';
import { checkMetaCommands, createdExtensions, loadParser, splitStatements, type Statement } from './sql.js';

export interface Script {
  /** What to print in messages: the file's path as the user would type it. */
  path: string;
  text: string;
  /** null when the parser rejected the text; it is then sent whole and the server reports where. */
  statements: Statement[] | null;
  transactional: boolean;
}

export interface ScriptSource {
  path: string;
  text: string;
  noTransaction: boolean;
}

export async function prepareScript(source: ScriptSource): Promise<Script> {
  const lib = await loadParser();
  checkMetaCommands(lib, source.text, source.path);
  const { statements } = splitStatements(lib, source.text);
  if (statements && statements.length === 0) {
    throw new Refused(`${source.path}: no SQL statement in it (empty, or comments only). Write the migration, or delete the file if it was created by mistake.`);
  }
  return { path: source.path, text: source.text, statements, transactional: !source.noTransaction };
}

export function scriptExtensions(script: Script): string[] {
  return script.statements ? createdExtensions(script.statements) : [];
}
