/**
 * Quote markers of mail text ("> ", RFC 3676 §4.5): the one place the readers take them
 * off, whether a flattened feedback report, a bounce forwarded by a person, or an abuse
 * report quoting the spam.
 */

/** `line` without the block's quote `prefix` ("> ", ">> "), or without the prefix's trimmed form (a quoted blank line is ">"). */
export function stripQuotePrefix(line: string, prefix: string): string {
  if (!prefix) return line;
  if (line.startsWith(prefix)) return line.slice(prefix.length);
  const bare = prefix.trimEnd();
  return bare && line.startsWith(bare) ? line.slice(bare.length) : line;
}

/** `line` without every level of quote markers (">", "> >", ">>") and one space after them. A scan. */
export function stripQuotes(line: string): string {
  let i = 0;
  let end = 0;
  for (;;) {
    let j = i;
    while (j < line.length && (line.charCodeAt(j) === 32 || line.charCodeAt(j) === 9)) j++;
    if (line.charCodeAt(j) !== 62) break; // '>'
    i = end = j + 1;
  }
  if (end === 0) return line;
  const c = line.charCodeAt(end);
  return line.slice(c === 32 || c === 9 ? end + 1 : end);
}
