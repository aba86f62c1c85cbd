/**
 * Every read of a tenant table says which tenant it reads: the token's
 * tenant, as a bound parameter (`tenant_id = $n`), on top of the row-level
 * policies, which stay the guarantee. On Citus this is what routes a tenant
 * query to one shard (the policy's settings expression does not); on plain
 * PostgreSQL it gives the planner the leading column of every tenant index.
 * A request without a tenant reads no tenant rows either way.
 *
 * Tenant tables are the app_public tables with a tenant_id column, and
 * `tenants` itself (by id). Functions returning such rows inherit the
 * predicate from the table's resource, except mutation functions' own
 * selects (a side effect may not depend on the request context step).
 */
import 'graphile-config';
import 'postgraphile';
import { TYPES, type PgSelectStep } from 'postgraphile/@dataplan/pg';
import { context } from 'postgraphile/grafast';
import { sql } from 'postgraphile/pg-sql2';

declare global {
  namespace Grafast {
    interface Context {
      /** The tenant the token names (src/server/preset.ts), null without one. */
      currentTenantId?: string | null;
    }
  }
}

const SCHEMA = 'app_public';

function tenantPredicate(column: string) {
  return ($select: PgSelectStep) => {
    // A mutation function's own select has side effects and must not depend
    // on steps planned after it; what it returns is read back normally.
    if ($select.mode === 'mutation') return;
    const $tenant = $select.placeholder(context().get('currentTenantId'), TYPES.uuid);
    $select.where(sql`${$select.alias}.${sql.identifier(column)} = ${$tenant}`);
  };
}

export const TenantPredicatePlugin: GraphileConfig.Plugin = {
  name: 'TenantPredicatePlugin',
  description: 'Reads of tenant tables name the token\'s tenant as a bound parameter (single-shard routing on Citus).',
  version: '1.0.0',
  gather: {
    hooks: {
      pgTables_PgResourceOptions(_info, event) {
        const { pgClass, resourceOptions } = event;
        if (pgClass.getNamespace()?.nspname !== SCHEMA) return;
        const column = pgClass.relname === 'tenants' ? 'id' : pgClass.getAttributes().some((a) => a.attname === 'tenant_id') ? 'tenant_id' : null;
        if (column) resourceOptions.selectAuth = tenantPredicate(column);
      },
    },
  },
};
