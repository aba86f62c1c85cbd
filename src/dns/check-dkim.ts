/**
 * DKIM: the TXT record at <selector>._domainkey.<domain> (a CNAME delegation
 * is followed; the record's character-strings are joined, as verifiers do)
 * must carry exactly our public key. The usual copy mistakes around the
 * 255-character limit of one TXT string are recognised and explained: the key
 * cut at the split, the two halves published as two records, or the quotes of
 * the split pasted into the value.
 */
import { failed, retryLater, verified, type RecordCheck } from './check-result.ts';
import { abbreviate, lookupTxt, quoteList } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';

export interface DkimExpectation {
  domain: string;
  selector: string;
  /** Base64 SubjectPublicKeyInfo, the p= value. */
  publicKey: string;
  expected: string;
}

function tags(record: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of record.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) map.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return map;
}

const looksLikeDkim = (txt: string) => /^\s*v\s*=\s*DKIM1\b/i.test(txt) || /(^|;)\s*p\s*=/i.test(txt);
/** The p= value with the folding whitespace DKIM allows removed. */
const keyOf = (txt: string) => (tags(txt).get('p') ?? '').replace(/\s+/g, '');

/**
 * When the published key first differs from ours right at a join between two
 * character-strings of the record, the value was mangled while splitting it.
 */
function seamMistake(record: string, chunks: string[], expectedKey: string): { at: number; found: string; expected: string } | null {
  const match = /(^|;)\s*p\s*=\s*([^;]*)/i.exec(record);
  if (!match || /\s/.test(match[2]!.trim())) return null;
  const found = match[2]!.trim();
  const start = record.indexOf(found, match.index);
  let at = 0;
  while (at < found.length && at < expectedKey.length && found[at] === expectedKey[at]) at++;
  if (at === found.length && at === expectedKey.length) return null;
  let offset = 0;
  const seams: number[] = [];
  for (const chunk of chunks.slice(0, -1)) {
    offset += chunk.length;
    seams.push(offset - start);
  }
  if (!seams.some((seam) => Math.abs(seam - at) <= 2)) return null;
  const window = (s: string) => s.slice(Math.max(0, at - 6), at + 6);
  return { at, found: window(found), expected: window(expectedKey) };
}

export async function checkDkim(resolver: DnsResolver, spec: DkimExpectation): Promise<RecordCheck> {
  const host = `${spec.selector}._domainkey.${spec.domain}`;
  const expectedKey = spec.publicKey;
  const shortExpected = `p=${abbreviate(expectedKey)}`;
  const answer = await lookupTxt(resolver, host);
  if (answer.kind === 'error') return retryLater(`the DKIM record at ${host}`, answer.message);
  if (answer.kind === 'missing') {
    return failed(`No DKIM record at ${host}: publish a TXT record "v=DKIM1; k=rsa; ${shortExpected}" (the full value is in dnsRecords).`);
  }
  const where = answer.value.via ? `${host} (via CNAME ${answer.value.via})` : host;
  const ttlOf = { name: answer.value.via ?? host, type: 'TXT' as const };
  const texts = answer.value.records.map((chunks) => chunks.join(''));

  // Halves of the value published as separate TXT records.
  if (texts.length > 1) {
    const joined = [texts.join(''), [...texts].reverse().join('')].find((t) => keyOf(t) === expectedKey);
    if (joined) {
      return failed(
        `The DKIM key at ${where} is split across ${texts.length} separate TXT records (${quoteList(texts)}); verifiers read each record on its own. ` +
          `Publish one TXT record holding the whole value "v=DKIM1; k=rsa; ${shortExpected}" (several quoted strings inside one record are fine).`,
        ttlOf,
      );
    }
  }
  const dkim = texts.filter(looksLikeDkim);
  if (dkim.length === 0) {
    return failed(`The TXT record at ${where} is not a DKIM key (found ${quoteList(texts)}); expected "v=DKIM1; k=rsa; ${shortExpected}".`, ttlOf);
  }
  if (dkim.length > 1) {
    return failed(`${where} has ${dkim.length} DKIM records (${quoteList(dkim)}); keep only "v=DKIM1; k=rsa; ${shortExpected}".`, ttlOf);
  }
  const record = dkim[0]!;
  const chunks = answer.value.records[texts.indexOf(record)]!;
  const keyType = tags(record).get('k');
  if (keyType && keyType.toLowerCase() !== 'rsa') {
    return failed(`The DKIM record at ${where} declares k=${keyType}, but this domain signs with an RSA key: expected "v=DKIM1; k=rsa; ${shortExpected}".`, ttlOf);
  }
  const found = keyOf(record);
  if (found === expectedKey) return verified(ttlOf);
  if (found.includes('"')) {
    return failed(
      `The DKIM key at ${where} contains quote marks (found p=${abbreviate(found)}): the value was pasted together with the quotes around its 255-character parts. ` +
        `Enter the parts as separate strings of one TXT record, or the whole value without quotes: "v=DKIM1; k=rsa; ${shortExpected}".`,
      ttlOf,
    );
  }
  if (found === '') {
    return failed(`The DKIM record at ${where} has an empty key (p=), which revokes it: expected ${shortExpected}.`, ttlOf);
  }
  if (expectedKey.startsWith(found)) {
    return failed(
      `The DKIM key at ${where} is cut short: found ${found.length} of its ${expectedKey.length} characters (p=${abbreviate(found)}), expected ${shortExpected}. ` +
        `It was probably broken at the 255-character split of a TXT string: publish the whole value (as two quoted strings in one record if your DNS provider needs it).`,
      ttlOf,
    );
  }
  const seam = seamMistake(record, chunks, expectedKey);
  if (seam) {
    return failed(
      `The DKIM key at ${where} differs from this domain's key where two of its TXT strings join (character ${seam.at + 1} of the key): ` +
        `found "…${seam.found}…", expected "…${seam.expected}…". Characters were lost or added when the value was split into 255-character strings; ` +
        `publish the value again exactly as shown in dnsRecords (expected ${shortExpected}).`,
      ttlOf,
    );
  }
  if (found.startsWith(expectedKey)) {
    return failed(`The DKIM key at ${where} has ${found.length - expectedKey.length} extra characters after the key (found p=${abbreviate(found)}), expected ${shortExpected}.`, ttlOf);
  }
  return failed(
    `The DKIM key at ${where} is not this domain's key: found p=${abbreviate(found)}, expected ${shortExpected}. Publish the value shown in dnsRecords.`,
    ttlOf,
  );
}
