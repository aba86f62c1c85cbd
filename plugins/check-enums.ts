/**
 * Status, type and stage columns as GraphQL enums, read from their CHECK
 * constraints: the database stays the one place the allowed values live.
 *
 * A text column whose CHECK constraint is `col in ('a', 'b', …)` (PostgreSQL
 * stores it as `col = any (array['a', 'b', …])`), alone or as one conjunct
 * `(col is null or col in (…))` of a larger CHECK, gets an enum codec: its
 * GraphQL type is an enum named after the table and the column
 * (`CampaignStatus`), used for outputs, inputs, conditions, filters and
 * grouping. Values are upper case with `_` for anything else
 * (`not_interested` → `NOT_INTERESTED`, `5000+` → `SIZE_5000_PLUS`: a value
 * starting with a digit takes the column's last word as a prefix); the
 * database keeps and receives the stored text exactly. A value GraphQL does
 * not know is refused by validation, before the request reaches PostgreSQL.
 *
 * The constraints are read once, while the schema is built (one catalogue
 * query next to PostGraphile's introspection); requests pay nothing.
 */
import 'graphile-config';
import 'postgraphile';
import { enumCodec, withPgClientFromPgService, type PgCodec } from 'postgraphile/@dataplan/pg';
import type { Introspection, PgAttribute, PgClass, PgConstraint } from 'pg-introspection';

/** What a CHECK-constraint enum remembers of where it came from (tests and docs read it). */
export interface CheckEnumExtensions {
  checkEnum: { schemaName: string; tableName: string; columnName: string; constraintNames: string[] };
}

interface FoundEnum {
  pgClass: PgClass;
  pgAttribute: PgAttribute;
  values: string[];
  constraintNames: string[];
}

interface State {
  byAttribute: Map<PgAttribute, PgCodec>;
  /** The same codecs by "schema.table.column", for function arguments tagged `@enumArg`. */
  byColumn: Map<string, PgCodec>;
  codecs: PgCodec[];
}

/**
 * A function argument that takes a column's values: `@enumArg <argument> <table>.<column>`
 * in the function's comment (one tag per argument; the table in the function's schema)
 * gives the argument that column's enum type.
 */
function enumArgsOf(tags: Record<string, unknown>, schemaName: string): Map<string, string> {
  const raw = tags.enumArg;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const args = new Map<string, string>();
  for (const entry of list) {
    const [argument, column] = String(entry).trim().split(/\s+/);
    if (!argument || !column || !/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(column)) {
      throw new Error(`CheckEnumsPlugin: @enumArg takes "<argument> <table>.<column>", got "${String(entry)}".`);
    }
    args.set(argument, `${schemaName}.${column}`);
  }
  return args;
}

/** `x` without the parentheses that wrap all of it. */
function unwrap(expr: string): string {
  let s = expr.trim();
  while (s.startsWith('(') && closingParen(s, 0) === s.length - 1) s = s.slice(1, -1).trim();
  return s;
}

/** Index of the parenthesis closing the one at `open` (string literals skipped). */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      i++;
      while (i < s.length && !(s[i] === "'" && s[i + 1] !== "'")) i += s[i] === "'" ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** `a AND b AND c` split at the top level (not inside parentheses or literals). */
function splitTopLevel(expr: string, keyword: 'AND' | 'OR'): string[] {
  const parts: string[] = [];
  const sep = ` ${keyword} `;
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === "'") {
      i++;
      while (i < expr.length && !(expr[i] === "'" && expr[i + 1] !== "'")) i += expr[i] === "'" ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && expr.startsWith(sep, i)) {
      parts.push(expr.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(expr.slice(start));
  return parts.map(unwrap);
}

const IDENT = String.raw`([a-z_][a-z0-9_$]*|"(?:[^"]|"")+")`;
const LITERAL = String.raw`'((?:[^']|'')*)'::(?:text|character varying)`;
const ANY_ARRAY = new RegExp(String.raw`^${IDENT} = ANY \(ARRAY\[(.*)\]\)$`, 's');
const IS_NULL = new RegExp(String.raw`^${IDENT} IS NULL$`);

const identName = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident);

/** `col = ANY (ARRAY['a'::text, …])` → column and values, or nothing if it is not exactly that. */
function anyArray(expr: string): { column: string; values: string[] } | undefined {
  const match = ANY_ARRAY.exec(expr);
  if (!match) return undefined;
  const items = match[2]!.split(/, (?=')/);
  const values: string[] = [];
  for (const item of items) {
    const literal = new RegExp(`^${LITERAL}$`, 's').exec(item);
    if (!literal) return undefined;
    values.push(literal[1]!.replace(/''/g, "'"));
  }
  return { column: identName(match[1]!), values };
}

/**
 * The columns a CHECK constraint (as `pg_get_constraintdef` prints it)
 * restricts to a list of values: each top-level conjunct that is
 * `col = any (array[…])` or `col is null or col = any (array[…])`.
 */
export function enumColumnsOfCheck(definition: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const body = /^CHECK \((.*)\)( NOT VALID)?$/s.exec(definition.trim());
  if (!body) return found;
  for (const conjunct of splitTopLevel(unwrap(body[1]!), 'AND')) {
    const direct = anyArray(conjunct);
    if (direct) {
      found.set(direct.column, direct.values);
      continue;
    }
    const alternatives = splitTopLevel(conjunct, 'OR');
    if (alternatives.length !== 2) continue;
    const nullCheck = alternatives.map((a) => IS_NULL.exec(a)).find(Boolean);
    const list = alternatives.map(anyArray).find(Boolean);
    if (nullCheck && list && identName(nullCheck[1]!) === list.column) found.set(list.column, list.values);
  }
  return found;
}

/** The GraphQL name of a stored value: upper case, `_` between words, `+` as PLUS. */
export function enumValueName(value: string, columnName: string): string {
  let name = value
    .replace(/\+/g, '_plus_')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  if (/^[0-9]/.test(name)) name = `${columnName.split('_').pop()!.toUpperCase()}_${name}`;
  return name;
}

/** `campaign` + `status` → `campaign_status`; a word the column repeats from the table is said once (`message` + `message_type` → `message_type`). */
export function enumTypeWords(tableName: string, columnName: string): string {
  const table = tableName.split('_');
  const column = columnName.split('_');
  return [...table, ...(column[0] === table.at(-1) ? column.slice(1) : column)].join('_');
}

async function findCheckEnums(
  pgService: GraphileConfig.PgServiceConfiguration,
  introspection: Introspection,
): Promise<FoundEnum[]> {
  const schemas = pgService.schemas ?? [];
  const checks = introspection.constraints.filter((c) => c.contype === 'c' && schemas.includes(c.getNamespace()?.nspname ?? ''));
  if (checks.length === 0) return [];
  const { rows } = await withPgClientFromPgService(pgService, pgService.pgSettingsForIntrospection ?? null, (client) =>
    client.query<{ oid: string; def: string }>({
      text: 'select oid::text, pg_catalog.pg_get_constraintdef(oid) as def from pg_catalog.pg_constraint where oid = any($1::oid[])',
      values: [checks.map((c) => c._id)],
    }),
  );
  const definitionOf = new Map(rows.map((r) => [r.oid, r.def]));
  const found = new Map<PgAttribute, FoundEnum>();
  for (const constraint of checks as PgConstraint[]) {
    const pgClass = constraint.getClass();
    if (!pgClass || pgClass.relispartition) continue;
    for (const [column, values] of enumColumnsOfCheck(definitionOf.get(constraint._id) ?? '')) {
      const pgAttribute = pgClass.getAttributes().find((a) => a.attname === column);
      if (!pgAttribute) continue;
      const previous = found.get(pgAttribute);
      // Two constraints on one column: only values both allow.
      found.set(pgAttribute, previous
        ? { ...previous, values: previous.values.filter((v) => values.includes(v)), constraintNames: [...previous.constraintNames, constraint.conname] }
        : { pgClass, pgAttribute, values, constraintNames: [constraint.conname] });
    }
  }
  return [...found.values()];
}

declare global {
  namespace GraphileConfig {
    interface GatherHelpers {
      checkEnums: Record<string, never>;
    }
  }
}

export const CheckEnumsPlugin: GraphileConfig.Plugin = {
  name: 'CheckEnumsPlugin',
  description: 'Text columns limited by a CHECK (col in (…)) become GraphQL enums named after table and column.',
  version: '1.0.0',
  after: ['PgEnumTablesPlugin', 'smart-tags'],
  inflection: {
    replace: {
      enumValue(previous, options, value, codec) {
        const origin = (codec?.extensions as Partial<CheckEnumExtensions> | undefined)?.checkEnum;
        return origin ? enumValueName(value, origin.columnName) : previous!(value, codec);
      },
    },
  },
  schema: {
    entityBehavior: {
      pgCodecAttribute: {
        inferred: {
          // PostGraphile leaves enums out of orderBy; these were ordered as text before, and still sort as
          // text. Before the index rules, which still take it away from unindexed columns.
          before: ['inferred'],
          provides: ['checkEnums'],
          callback(behavior, [codec, attributeName]) {
            const attributeCodec = codec.attributes[attributeName]?.codec;
            return (attributeCodec?.extensions as Partial<CheckEnumExtensions> | undefined)?.checkEnum
              ? [behavior, 'attribute:orderBy' as GraphileBuild.BehaviorString]
              : behavior;
          },
        },
      },
    },
  },
  gather: {
    namespace: 'checkEnums',
    initialState: (): State => ({ byAttribute: new Map(), byColumn: new Map(), codecs: [] }),
    helpers: {},
    hooks: {
      async pgIntrospection_introspection(info, event) {
        const state = info.state as State;
        const { introspection, serviceName } = event;
        const pgService = info.resolvedPreset.pgServices?.find((s) => s.name === serviceName);
        if (!pgService) return;
        for (const found of await findCheckEnums(pgService, introspection)) {
          const { pgClass, pgAttribute, values, constraintNames } = found;
          const original = await info.helpers.pgCodecs.getCodecFromType(serviceName, pgAttribute.atttypid, pgAttribute.atttypmod);
          if (!original || values.length === 0) continue;
          const tableName = info.inflection.singularize(info.inflection.tableResourceName({ serviceName, pgClass }));
          const typeName = info.inflection.upperCamelCase(enumTypeWords(tableName, pgAttribute.attname));
          const names = values.map((v) => enumValueName(v, pgAttribute.attname));
          const clash = names.find((n, i) => names.indexOf(n) !== i || !/^[A-Z_][A-Z0-9_]*$/.test(n));
          if (clash) throw new Error(`CheckEnumsPlugin: ${pgClass.relname}.${pgAttribute.attname} has values that do not map to distinct GraphQL enum names (${clash}); rename the values or extend enumValueName.`);
          const extensions: CheckEnumExtensions & { tags: { name: string } } = {
            tags: { name: typeName },
            checkEnum: { schemaName: pgClass.getNamespace()!.nspname, tableName: pgClass.relname, columnName: pgAttribute.attname, constraintNames },
          };
          const codec = enumCodec({
            name: `${pgClass.relname}_${pgAttribute.attname}_check_enum`,
            identifier: original.sqlType,
            values: values.map((value) => ({ value })),
            description: `The values a \`${info.inflection.upperCamelCase(tableName)}\`'s \`${info.inflection.camelCase(pgAttribute.attname)}\` may take, from its CHECK constraint ${constraintNames.map((n) => `\`${n}\``).join(', ')} (the database stores the text listed there, e.g. \`${values[0]}\`).`,
            extensions,
          });
          state.byAttribute.set(pgAttribute, codec);
          state.byColumn.set(`${pgClass.getNamespace()!.nspname}.${pgClass.relname}.${pgAttribute.attname}`, codec);
          state.codecs.push(codec);
        }
      },
      pgProcedures_PgResourceOptions(info, event) {
        const { pgProc, resourceOptions } = event;
        const args = enumArgsOf(pgProc.getTagsAndDescription().tags as Record<string, unknown>, pgProc.getNamespace()!.nspname);
        for (const [argument, column] of args) {
          const codec = (info.state as State).byColumn.get(column);
          const parameter = resourceOptions.parameters?.find((p) => p.name === argument);
          if (!codec || !parameter) throw new Error(`CheckEnumsPlugin: @enumArg ${argument} ${column} on ${pgProc.proname}: no such ${codec ? 'argument' : 'enum column'}.`);
          (parameter as { codec: PgCodec }).codec = codec;
        }
      },
      pgCodecs_attribute(info, event) {
        const codec = (info.state as State).byAttribute.get(event.pgAttribute);
        if (codec) event.attribute.codec = codec;
      },
      async pgRegistry_PgRegistryBuilder_pgCodecs(info, event) {
        for (const codec of (info.state as State).codecs) event.registryBuilder.addCodec(codec);
      },
    },
  },
};
