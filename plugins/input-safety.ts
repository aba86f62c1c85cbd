/**
 * Values PostgreSQL would choke on, or accept although they mean nothing,
 * are refused before any SQL runs, with INVALID_INPUT and the field named:
 *
 * - text containing the NUL character (PostgreSQL text and JSONB cannot hold
 *   it), in variables and in string literals of the document;
 * - inputs nested deeper than MAX_INPUT_DEPTH (a JSON document thousands of
 *   levels deep exhausts the database's stack);
 * - BigFloat values that are not finite numbers (NaN, Infinity, -Infinity);
 * - Date and Datetime values that are not ISO 8601 dates between the years 1
 *   and 9999 (PostgreSQL also takes "infinity", "epoch", "tomorrow" and year
 *   99999).
 */
import 'graphile-config';
import 'postgraphile';
import 'postgraphile/grafserv';
import { SafeError } from 'postgraphile/grafast';
import { GraphQLError, Kind, parse, type ValueNode } from 'postgraphile/graphql';

/** Deepest nesting of objects and lists accepted in one input value. */
export const MAX_INPUT_DEPTH = 32;

const NUL = '\u0000';

function refuse(where: string, problem: string): never {
  throw new SafeError(`Invalid value for ${where}: ${problem}.`, { code: 'INVALID_INPUT', statusCode: 400 });
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`);

/** Walks a variable's JSON value: NUL in keys or strings, and depth. */
function checkValue(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    if (value.includes(NUL)) refuse(path, 'text cannot contain the NUL character (\\u0000)');
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_INPUT_DEPTH) refuse(path, `it is nested more than ${MAX_INPUT_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, join(path, i), depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key.includes(NUL)) refuse(path, 'a key cannot contain the NUL character (\\u0000)');
    checkValue(item, join(path, key), depth + 1);
  }
}

/** Walks a literal in the document the same way. */
function checkLiteral(node: ValueNode, path: string, depth: number): void {
  switch (node.kind) {
    case Kind.STRING:
      if (node.value.includes(NUL)) refuse(path, 'text cannot contain the NUL character (\\u0000)');
      return;
    case Kind.LIST:
      if (depth >= MAX_INPUT_DEPTH) refuse(path, `it is nested more than ${MAX_INPUT_DEPTH} levels deep`);
      node.values.forEach((item, i) => checkLiteral(item, join(path, i), depth + 1));
      return;
    case Kind.OBJECT:
      if (depth >= MAX_INPUT_DEPTH) refuse(path, `it is nested more than ${MAX_INPUT_DEPTH} levels deep`);
      for (const field of node.fields) checkLiteral(field.value, join(path, field.name.value), depth + 1);
      return;
    default:
      return;
  }
}

/** The request's variables and the argument literals of its document. */
export function assertSafeInput(query: unknown, variables: unknown): void {
  if (variables && typeof variables === 'object') {
    for (const [name, value] of Object.entries(variables)) checkValue(value, `$${name}`, 0);
  }
  if (typeof query !== 'string') return;
  if (query.includes(NUL)) refuse('the query', 'it cannot contain the NUL character (\\u0000)');
  let document;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return; // a syntax error is reported as GRAPHQL_PARSE_FAILED elsewhere
  }
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    const n = node as { kind?: string; name?: { value: string }; value?: ValueNode; arguments?: unknown; selectionSet?: unknown; definitions?: unknown; selections?: unknown; defaultValue?: ValueNode; variableDefinitions?: unknown; variable?: { name: { value: string } } };
    if (n.kind === Kind.ARGUMENT && n.value && n.name) {
      checkLiteral(n.value, `argument "${n.name.value}"`, 0);
      return;
    }
    if (n.kind === Kind.VARIABLE_DEFINITION && n.defaultValue && n.variable) {
      checkLiteral(n.defaultValue, `the default of $${n.variable.name.value}`, 0);
    }
    visit(n.definitions);
    visit(n.variableDefinitions);
    visit(n.selectionSet);
    visit(n.selections);
    visit(n.arguments);
  };
  visit(document);
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;

function checkedScalar(name: string, value: unknown): void {
  if (name === 'BigFloat') {
    const text = String(value).trim();
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
      throw new GraphQLError(`${JSON.stringify(value)} is not a finite number (NaN and Infinity are not accepted).`, { extensions: { code: 'INVALID_INPUT' } });
    }
  } else if (name === 'Date' || name === 'Datetime') {
    const match = typeof value === 'string' ? (name === 'Date' ? ISO_DATE : ISO_DATETIME).exec(value.trim()) : null;
    if (!match || Number(match[1]) < 1) {
      throw new GraphQLError(
        `${JSON.stringify(value)} is not a ${name === 'Date' ? 'date (YYYY-MM-DD)' : 'date and time (ISO 8601, e.g. 2026-03-01T09:30:00Z)'} between the years 1 and 9999.`,
        { extensions: { code: 'INVALID_INPUT' } },
      );
    }
  }
}

export const InputSafetyPlugin: GraphileConfig.Plugin = {
  name: 'InputSafetyPlugin',
  description: 'Refuses NUL characters, over-deep inputs, non-finite numbers and out-of-range dates with INVALID_INPUT.',
  version: '1.0.0',
  schema: {
    hooks: {
      GraphQLScalarType(config) {
        if (!['BigFloat', 'Date', 'Datetime'].includes(config.name)) return config;
        const { parseValue, parseLiteral } = config;
        return {
          ...config,
          parseValue(value) {
            checkedScalar(config.name, value);
            return parseValue ? parseValue(value) : value;
          },
          parseLiteral(node, variables) {
            if (node.kind === Kind.STRING || node.kind === Kind.FLOAT || node.kind === Kind.INT) checkedScalar(config.name, node.value);
            return parseLiteral ? parseLiteral(node, variables) : undefined;
          },
        };
      },
    },
  },
  grafserv: {
    middleware: {
      processGraphQLRequestBody(next, event) {
        assertSafeInput(event.body.query, event.body.variableValues);
        return next();
      },
    },
  },
};
