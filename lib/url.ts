/** Hide the password of every URL-looking thing in a text: postgres://app:***@db/prod. */
export function maskUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@\s]*)@/gi, '$1***@');
}

/** Hide a known password wherever it appears, including inside driver messages. */
export function maskSecret(text: string, secret: string | undefined): string {
  const masked = maskUrl(text);
  if (!secret || secret.length < 2) return masked;
  return masked.split(secret).join('***');
}

export type Target =
  | { kind: 'server'; url: string }
  | { kind: 'pglite'; path: string | null; url: string };

export function passwordOf(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
