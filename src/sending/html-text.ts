/**
 * The plain-text part of a message when the template has none: the HTML's
 * readable text, with paragraphs and line breaks kept, list items bulleted,
 * and links written as "text (url)" so they still work in a text reader.
 */

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—',
  hellip: '…', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“', copy: '©', reg: '®', euro: '€',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

const BLOCK = /<\/?(p|div|h[1-6]|table|tr|ul|ol|blockquote|section|article|header|footer|hr)\b[^>]*>/gi;

export function htmlToText(html: string): string {
  let text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(head|style|script|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<img\b[^>]*>/gi, (tag) => {
      const alt = /\balt\s*=\s*("([^"]*)"|'([^']*)')/i.exec(tag);
      return alt ? (alt[2] ?? alt[3] ?? '') : '';
    })
    .replace(/<a\b[^>]*?\bhref\s*=\s*("([^"]*)"|'([^']*)')[^>]*>([\s\S]*?)<\/a\s*>/gi, (_m, _q, dq, sq, inner: string) => {
      const href = decodeEntities(dq ?? sq ?? '');
      const label = inner.replace(/<[^>]+>/g, '').trim();
      if (!label) return href;
      if (href.startsWith('#')) return label; // an anchor inside the message means nothing in text
      const plain = decodeEntities(label);
      return plain === href || (/^mailto:/i.test(href) && plain === href.slice(7)) ? label : `${label} (${href})`;
    })
    .replace(/\s+/g, ' ')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/(td|th)\s*>/gi, ' ')
    .replace(BLOCK, '\n\n')
    .replace(/<[^>]+>/g, '');
  text = decodeEntities(text)
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return text;
}
