/**
 * Small readers for header data: Message-ID lists (In-Reply-To, References)
 * and RFC 822-style field blocks, which is what a DSN's delivery-status part
 * and an attached original message's header are.
 */

/** The ids of a Message-ID list header, without angle brackets, in header order. */
export function messageIds(value: string | null | undefined): string[] {
  if (!value) return [];
  const bracketed = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  const ids = bracketed.length ? bracketed : value.split(/[\s,]+/);
  return ids.map((id) => id.trim()).filter((id) => id.length > 0 && id.length <= 998);
}

export type FieldBlock = Map<string, string>;

/**
 * Splits a block of "Name: value" lines (folded lines unfolded) into groups
 * separated by blank lines; keys are lower case, the first occurrence wins.
 */
export function fieldGroups(text: string): FieldBlock[] {
  const groups: FieldBlock[] = [];
  let current: FieldBlock = new Map();
  let lastKey: string | null = null;
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') {
      if (current.size) groups.push(current);
      current = new Map();
      lastKey = null;
      continue;
    }
    if (/^[ \t]/.test(line) && lastKey) {
      current.set(lastKey, `${current.get(lastKey)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const isNew = !current.has(key);
    if (isNew) current.set(key, line.slice(colon + 1).trim());
    lastKey = isNew ? key : null;
  }
  if (current.size) groups.push(current);
  return groups;
}

/** The header block of a raw message (everything before the first blank line), as fields. */
export function headerFields(rawMessage: string): FieldBlock {
  const end = rawMessage.search(/\r?\n\r?\n/);
  return fieldGroups(end >= 0 ? rawMessage.slice(0, end) : rawMessage)[0] ?? new Map();
}
