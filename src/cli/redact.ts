/**
 * Passwords out of anything pgshift shows: process titles, error lines. No imports, so that
 * main.ts can redact its process title before loading anything else.
 */

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]*@/gi;
const KEYWORD_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)/gi;

/** The text with every URL password (`scheme://user:secret@`) and `password=` value replaced by `***`. */
export function redactSecrets(text: string): string {
  return text.replace(URL_PASSWORD, '$1***@').replace(KEYWORD_PASSWORD, '$1***');
}

/**
 * On Linux, setting process.title overwrites the memory /proc/<pid>/cmdline (and so `ps`) reads
 * the command line from: when an argument carries a password, show the arguments redacted.
 * The password is visible from the exec until this runs (tens of milliseconds): --url-file,
 * DATABASE_URL or PGPASSFILE keep it out of the command line altogether.
 */
export function redactProcessTitle(argv: string[] = process.argv): boolean {
  const redacted = argv.map(redactSecrets);
  if (redacted.every((a, i) => a === argv[i])) return false;
  process.title = redacted.join(' ');
  return true;
}
