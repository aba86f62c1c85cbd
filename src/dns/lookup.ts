/**
 * DNS answers as the checks need them: a record set, "there is no such
 * record" (NXDOMAIN or no data: a definite answer the user can fix), or a
 * temporary failure (timeout, SERVFAIL, refused, unreachable server) that
 * says nothing about the records and is retried.
 */
import type { DnsResolver } from './resolver.ts';

export type Answer<T> = { kind: 'found'; value: T } | { kind: 'missing'; code: string } | { kind: 'error'; message: string };

const MISSING = new Set(['ENOTFOUND', 'ENODATA']);

const REASONS: Record<string, string> = {
  ETIMEOUT: 'timed out',
  ESERVFAIL: 'failed at the DNS server (SERVFAIL)',
  EREFUSED: 'was refused by the DNS server',
  ECONNREFUSED: 'could not reach the DNS server',
  ECANCELLED: 'was cancelled',
  EBADRESP: 'got a malformed answer',
  EFORMERR: 'got a format error from the DNS server',
  ENOTIMP: 'is not implemented by the DNS server',
};

/** "the DNS lookup of TXT pm._domainkey.example.com timed out". */
export function describeFailure(type: string, name: string, error: unknown): string {
  const code = (error as { code?: string } | null)?.code ?? '';
  const reason = REASONS[code] ?? `failed (${code || (error instanceof Error ? error.message : String(error))})`;
  return `the DNS lookup of ${type} ${name} ${reason}`;
}

export class TemporaryDnsError extends Error {
  override name = 'TemporaryDnsError';
}

export async function lookup<T>(type: string, name: string, query: () => Promise<T>): Promise<Answer<T>> {
  try {
    return { kind: 'found', value: await query() };
  } catch (error) {
    const code = (error as { code?: string } | null)?.code ?? '';
    if (MISSING.has(code)) return { kind: 'missing', code };
    return { kind: 'error', message: describeFailure(type, name, error) };
  }
}

/** Like lookup, but a temporary failure throws TemporaryDnsError (for walks that cannot continue without the answer). */
export async function lookupOrThrow<T>(type: string, name: string, query: () => Promise<T>): Promise<T | null> {
  const answer = await lookup(type, name, query);
  if (answer.kind === 'error') throw new TemporaryDnsError(answer.message);
  return answer.kind === 'found' ? answer.value : null;
}

export interface TxtAnswer {
  /** Each TXT record as its character-strings (chunks of at most 255 characters). */
  records: string[][];
  /** The CNAME target the records were found at, when the name is delegated. */
  via?: string;
}

/**
 * TXT records at a name, following a CNAME delegation (e.g. a DKIM selector
 * pointed at a provider) when the server answers with the alias only.
 */
export async function lookupTxt(resolver: DnsResolver, name: string): Promise<Answer<TxtAnswer>> {
  let current = name;
  for (let hops = 0; hops < 5; hops++) {
    const txt = await lookup('TXT', current, () => resolver.resolveTxt(current));
    if (txt.kind === 'found' && txt.value.length > 0) {
      return { kind: 'found', value: { records: txt.value, ...(current !== name ? { via: current } : {}) } };
    }
    if (txt.kind === 'error') return txt;
    const alias = await lookup('CNAME', current, () => resolver.resolveCname(current));
    if (alias.kind === 'error') return alias;
    if (alias.kind !== 'found' || alias.value.length === 0) return { kind: 'missing', code: txt.kind === 'missing' ? txt.code : 'ENODATA' };
    current = alias.value[0]!.replace(/\.$/, '');
  }
  return { kind: 'error', message: `the CNAME chain from ${name} is longer than 5 hops` };
}

/** Shortens a long value for a message: the first and last characters and its length. */
export function abbreviate(value: string, keep = 16): string {
  return value.length <= keep * 2 + 3 ? value : `${value.slice(0, keep)}…${value.slice(-keep)} (${value.length} characters)`;
}

export function quoteList(values: string[]): string {
  return values.map((v) => `"${abbreviate(v, 40)}"`).join(', ');
}
