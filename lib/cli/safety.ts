/** backup, restore. */
import type { Register } from './command.js';

export const registerSafety: Register = (cli) => cli;
