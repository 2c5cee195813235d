/** validate, repair, stamp, forget, renumber. */
import type { Register } from './command.js';

export const registerIntegrity: Register = (cli) => cli;
