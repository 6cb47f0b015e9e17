import { ident, literal } from '../db/quote.js';

/** `fillfactor=70` style reloptions as the body of SET ( ... ), names and values quoted. */
export function relOptionsList(options: string[] | null, prefix?: string): string[] {
  return (options ?? []).map((opt) => {
    const eq = opt.indexOf('=');
    const name = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? 'true' : opt.slice(eq + 1);
    return `${prefix ? `${ident(prefix)}.` : ''}${ident(name)} = ${literal(value)}`;
  });
}
