/**
 * Dates and times leave PostgreSQL as they are, in its text output (DateStyle
 * ISO, and no parsing into JS dates: the API's pool is configured with
 * DATE_TIME_POOL_CONFIG), and are put into PostGraphile's format here,
 * instead of with `to_char()` (or a `::text` cast) in the SQL as PostGraphile
 * does by default. Citus refuses non-IMMUTABLE functions in the RETURNING
 * clause of an UPDATE or DELETE on a distributed table, and `to_char` and the
 * text cast are STABLE: every update mutation whose payload selected a
 * timestamp failed on the cluster. The values are the same on both engines
 * ("2026-03-01T09:30:00.000000+00:00", a date as "2026-03-01"), and the
 * database formats nothing.
 *
 * PostGraphile's built-in codecs are shared objects (the API's filters and
 * aggregates recognise them by identity), so this module adjusts them in
 * place when it is loaded.
 */
import pg from 'pg';
import { TYPES } from 'postgraphile/@dataplan/pg';

/** The OIDs of timestamptz, timestamp, date, time and timetz. */
const DATE_TIME_OIDS = new Set([1184, 1114, 1082, 1083, 1266]);

/** For the pool whose rows reach these codecs: ISO text output, kept as text. */
export const DATE_TIME_POOL_CONFIG: Pick<pg.PoolConfig, 'options' | 'types'> = {
  options: '-c DateStyle=ISO,MDY',
  types: {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      DATE_TIME_OIDS.has(oid) ? (text: string) => text : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  },
};

const TIMESTAMP = /^(\d{4,}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:([+-]\d\d)(?::(\d\d))?(?::\d\d)?)?( BC)?$/;
const TIME = /^(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:([+-]\d\d)(?::(\d\d))?(?::\d\d)?)?$/;

function unexpected(type: string, text: string): Error {
  return new Error(`unexpected ${type} text from PostgreSQL: ${JSON.stringify(text)} (the connection's DateStyle must be ISO)`);
}

const micros = (fraction: string | undefined) => `.${(fraction ?? '').padEnd(6, '0')}`;
const offset = (hours: string | undefined, minutes: string | undefined) => (hours ? `${hours}:${minutes ?? '00'}` : '');

/** As to_char(…, 'YYYY-MM-DD"T"HH24:MI:SS.US[TZH:TZM]'): infinite values are null. */
function timestampFromPg(type: string, withZone: boolean) {
  return (text: string): string => {
    if (text === 'infinity' || text === '-infinity') return null as unknown as string;
    const m = TIMESTAMP.exec(text);
    if (!m || (withZone && !m[4])) throw unexpected(type, text);
    return `${m[1]}T${m[2]}${micros(m[3])}${withZone ? offset(m[4], m[5]) : ''}`;
  };
}

/** As to_char(date '1970-01-01' + …, 'HH24:MI:SS.US[TZH:TZM]'). */
function timeFromPg(type: string, withZone: boolean) {
  return (text: string): string => {
    const m = TIME.exec(text);
    if (!m || (withZone && !m[3])) throw unexpected(type, text);
    return `${m[1]}${micros(m[2])}${withZone ? offset(m[3], m[4]) : ''}`;
  };
}

/** As to_char(…, 'YYYY-MM-DD'): ISO output already is. */
function dateFromPg(text: string): string {
  if (text === 'infinity' || text === '-infinity') return null as unknown as string;
  const m = /^(\d{4,}-\d\d-\d\d)( BC)?$/.exec(text);
  if (!m) throw unexpected('date', text);
  return m[1]!;
}

const formats = {
  timestamptz: timestampFromPg('timestamptz', true),
  timestamp: timestampFromPg('timestamp', false),
  date: dateFromPg,
  time: timeFromPg('time', false),
  timetz: timeFromPg('timetz', true),
} as const;

for (const [name, fromPg] of Object.entries(formats)) {
  // The column itself (no cast) is selected; lists keep PostGraphile's default (a text cast).
  Object.assign(TYPES[name as keyof typeof formats], { castFromPg: (frag: unknown) => frag, listCastFromPg: undefined, fromPg });
}

export { formats as dateOutputFormats };
