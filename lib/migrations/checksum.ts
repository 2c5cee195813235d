import { createHash } from 'node:crypto';

/** The text as sqlmig sees it: no BOM, LF line ends (a CRLF checkout is not an edit). */
export function normalizeText(raw: string): string {
  return (raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw).replace(/\r\n/g, '\n');
}

/** SHA-256 (hex) of the normalized up file (SPEC §1). */
export function checksum(normalized: string): string {
  return createHash('sha256').update(normalized, 'utf8').digest('hex');
}
