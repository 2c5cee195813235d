import type { Argv } from 'yargs';
import type { Migrator } from '../index.js';
import type { Output } from './output.js';

/** One command's work: call the library, hand the result to the output, return an exit code if not 0. */
export type Handler = (args: Record<string, unknown>, migrator: Migrator, out: Output, target: string) => Promise<number | void>;
export type Runner = (handler: Handler) => (args: Record<string, unknown>) => Promise<void>;
/** Each area of the CLI adds its commands in its own file. */
export type Register = (cli: Argv, run: Runner) => Argv;
