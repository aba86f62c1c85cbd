/**
 * Spintax: `{Hi|Hello|Hey} there` picks one option. Resolved before Liquid
 * runs, with a deterministic random source seeded per lead and step, so the
 * preview of a step for a lead shows exactly what that lead is sent.
 *
 * Liquid's own braces are left alone: `{{ … }}` and `{% … %}` are copied
 * verbatim, and a `{…}` group without a top-level `|` (CSS rules, JSON) is
 * literal text. Groups nest: `{a|{b|c}}`.
 */
import { createHash } from 'node:crypto';

export type Random = () => number;

/** A seeded pseudo-random source (mulberry32 over a SHA-256 of the seed). */
export function seededRandom(seed: string): Random {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index just past the `close` that ends a Liquid tag opened at `start`, or the end of the text. */
function skipLiquid(text: string, start: number, close: string): number {
  const end = text.indexOf(close, start + 2);
  return end < 0 ? text.length : end + close.length;
}

/**
 * Parses a `{…}` group opened at `start`: returns its top-level options and
 * the index after its closing brace, or null when the braces never close.
 */
function parseGroup(text: string, start: number): { options: string[]; end: number } | null {
  const options: string[] = [];
  let depth = 0;
  let optionStart = start + 1;
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '{' && (text[i + 1] === '{' || text[i + 1] === '%')) {
      i = skipLiquid(text, i, text[i + 1] === '{' ? '}}' : '%}') - 1;
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      if (depth === 0) {
        options.push(text.slice(optionStart, i));
        return { options, end: i + 1 };
      }
      depth--;
    } else if (c === '|' && depth === 0) {
      options.push(text.slice(optionStart, i));
      optionStart = i + 1;
    }
  }
  return null;
}

/** Resolves every spintax group in `text`, choosing options with `random`. */
export function resolveSpintax(text: string, random: Random): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '{' && (text[i + 1] === '{' || text[i + 1] === '%')) {
      const end = skipLiquid(text, i, text[i + 1] === '{' ? '}}' : '%}');
      out += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === '{') {
      const group = parseGroup(text, i);
      if (group && group.options.length > 1) {
        const choice = group.options[Math.floor(random() * group.options.length)]!;
        out += resolveSpintax(choice, random);
        i = group.end;
        continue;
      }
      if (group) {
        // `{…}` without alternatives is literal text (CSS, JSON); its inside may still spin.
        out += '{' + resolveSpintax(group.options[0]!, random) + '}';
        i = group.end;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}
