/**
 * How a permission test makes `chmod 000` bite when the suite runs as root. Root keeps its uid and loses
 * only the capabilities that let it read and enter anything (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), through
 * setpriv: the CLI still runs from the clone, wherever it is. Switching to another user instead breaks as
 * soon as the clone sits in a folder only its owner may enter (a `mktemp -d` folder is 0700).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SETPRIV = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'];

/** Permission bits hold for the CLI run with no prefix (not root). */
export interface PermissionsHold { prefix: string[] }

/**
 * The command prefix under which file permissions hold for this process's user, or why none exists here
 * (for a skip message).
 */
export function permissionsHold(): PermissionsHold | string {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const root = mkdtempSync(join(tmpdir(), 'sqlmig-perm-'));
  try {
    const probe = join(root, 'probe');
    writeFileSync(probe, 'x');
    chmodSync(probe, 0o000);
    const check = `try { require('fs').readFileSync(${JSON.stringify(probe)}); process.exit(10) } catch (e) { process.exit(e.code === 'EACCES' ? 0 : 11) }`;
    const r = spawnSync(SETPRIV[0]!, [...SETPRIV.slice(1), process.execPath, '-e', check], { encoding: 'utf8' });
    if (r.error) return `running as root and setpriv is not available (${r.error.message}), so root would read a chmod 000 file`;
    if (r.status === 0) return { prefix: SETPRIV };
    if (r.status === 10) return 'running as root and setpriv could not drop CAP_DAC_OVERRIDE, so root would read a chmod 000 file';
    return `running as root and setpriv failed (${(r.stderr || `exit ${r.status}`).trim().split('\n')[0]}), so root would read a chmod 000 file`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
