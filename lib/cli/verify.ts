/** verify, dump-schema. */
import type { Register } from './command.js';

export const registerVerify: Register = (cli) => cli;
