/**
 * Computed columns (functions taking a table's row, like
 * `contact_lists_leads(contact_lists)`) receive the row as
 * `row((alias).*)::type` instead of the bare alias. The same value on one
 * PostgreSQL; on Citus, where a tenant query is sent whole to the node of
 * its shard, the bare alias would be a row of the shard (`contact_lists_102356`),
 * for which no such function exists, while the cast names the table's type.
 */
import 'graphile-config';
import 'postgraphile';
import { sql, type SQL } from 'postgraphile/pg-sql2';

interface ArgDigest {
  placeholder: SQL;
  name?: string;
}

interface FunctionOptions {
  from?: unknown;
  parameters?: ReadonlyArray<{ codec: { attributes?: unknown; sqlType: SQL } }>;
}

/** The `from` callbacks already wrapped (a set-returning function passes through both hooks below). */
const wrapped = new WeakSet<object>();

function castRowArgument(options: FunctionOptions): void {
  const first = options.parameters?.[0];
  const from = options.from;
  if (!first?.codec.attributes || typeof from !== 'function' || wrapped.has(from)) return;
  const type = first.codec.sqlType;
  const cast = (...args: ArgDigest[]) => {
    const [row, ...rest] = args;
    return (from as (...a: ArgDigest[]) => SQL)(...(row ? [{ ...row, placeholder: sql`row((${row.placeholder}).*)::${type}` }, ...rest] : args));
  };
  wrapped.add(cast);
  options.from = cast;
}

export const RowArgumentsPlugin: GraphileConfig.Plugin = {
  name: 'RowArgumentsPlugin',
  description: 'Computed columns get their row as a value of the table\'s type (works on Citus shards).',
  version: '1.0.0',
  gather: {
    hooks: {
      // Set-returning computed columns (relations like contactListsLeads).
      pgProcedures_functionResourceOptions(_info, event) {
        if (event.pgProc.provolatile === 'v') return;
        castRowArgument(event.functionResourceOptions as FunctionOptions);
      },
      // Scalar ones (campaignsStats, nextSendAt…).
      pgProcedures_PgResourceOptions(_info, event) {
        if (event.pgProc.provolatile === 'v') return;
        castRowArgument(event.resourceOptions as FunctionOptions);
      },
    },
  },
};
