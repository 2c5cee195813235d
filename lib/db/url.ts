/**
 * Passwords never reach output: every URL shown in output, errors and logs goes through maskUrl
 * (postgres://app:***@db/prod, ?password=***).
 */
import { isConnectionUri, parseConnectionUri } from './uri.js';

const URL_TOKEN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*/gi;
const QUERY_PASSWORD = /([?&](?:ssl)?password=)[^&\s"'<>`]*/gi;

/** Hide the password of every URL-looking thing in a text: postgres://app:***@db/prod, …?password=***. */
export function maskUrl(text: string): string {
  if (!text.includes('://')) return text;
  if (isConnectionUri(text) && !text.includes('\n') && passwordOf(text) !== undefined) return maskToken(text); // one URL, even with spaces in it
  return text.replace(URL_TOKEN, maskToken);
}

function maskToken(token: string): string {
  const start = token.indexOf('://') + 3;
  const slash = token.slice(start).search(/[/?]/);
  const authorityEnd = slash === -1 ? token.length : start + slash;
  let userEnd = token.lastIndexOf('@', authorityEnd - 1);
  if (userEnd < start) {
    // An unencoded "/" or "?" in a password ends the authority early: hide up to the last "@" rather than show it.
    userEnd = token.slice(start, authorityEnd).includes(':') ? token.lastIndexOf('@') : -1;
  }
  const colon = token.indexOf(':', start);
  const masked = userEnd > start && colon !== -1 && colon < userEnd ? `${token.slice(0, colon)}:***${token.slice(userEnd)}` : token;
  return masked.replace(QUERY_PASSWORD, '$1***');
}

/**
 * Hide a known password wherever it appears, including inside driver messages. In a URL only the
 * password is hidden (maskUrl), so a user or database named like the password stays readable.
 */
export function maskSecret(text: string, secret: string | undefined): string {
  const masked = maskUrl(text);
  if (!secret || secret.length < 2) return masked;
  let out = '';
  let last = 0;
  for (const match of masked.matchAll(URL_TOKEN)) {
    const token = match[0];
    const hidden = token.includes(':***@') || /[?&]password=\*\*\*/.test(token);
    out += masked.slice(last, match.index).split(secret).join('***') + (hidden ? token : token.split(secret).join('***'));
    last = match.index + token.length;
  }
  return out + masked.slice(last).split(secret).join('***');
}

export type Target =
  | { kind: 'server'; url: string }
  | { kind: 'pglite'; path: string | null; url: string };

/** The password a postgres:// URL carries (in the user information or ?password=), decoded. */
export function passwordOf(url: string): string | undefined {
  if (!isConnectionUri(url)) return undefined;
  try {
    const parts = parseConnectionUri(url);
    return [...parts.params].reverse().find(([k]) => k === 'password')?.[1] || parts.password;
  } catch {
    return undefined;
  }
}
