/**
 * In the database every key of a tenant-owned table starts with tenant_id
 * (isolation by construction, and Citus-style sharding). In the API the
 * tenant comes from the token, so this plugin removes tenant_id from those
 * primary, unique and foreign keys during introspection and hides the column:
 * lookups take `rowId`, relations join on the remaining columns (RLS and the
 * composite foreign keys still keep them inside the tenant), and no input
 * ever asks for a tenant id. A key made of tenant_id alone (one row per
 * tenant, e.g. tenant_policies) is left as it is.
 */
import 'graphile-config';
import 'postgraphile';

const SCHEMA = 'app_public';

declare global {
  namespace GraphileConfig {
    interface GatherHelpers {
      tenantScopedKeys: Record<string, never>;
    }
  }
}

interface State {
  /** Classes whose tenant_id column stays visible (it is their whole key). */
  keyedByTenant: Set<string>;
}

export const TenantScopedKeysPlugin: GraphileConfig.Plugin = {
  name: 'TenantScopedKeysPlugin',
  description: 'Drops tenant_id from keys and inputs; the tenant comes from the token.',
  version: '1.0.0',
  before: ['PgFakeConstraintsPlugin'],
  gather: {
    namespace: 'tenantScopedKeys',
    helpers: {},
    initialState: (): State => ({ keyedByTenant: new Set() }),
    hooks: {
      async pgIntrospection_introspection(info, event) {
        const state = info.state as State;
        const { introspection } = event;
        const tenantAttnum = new Map<string, number>();
        for (const attr of introspection.attributes) {
          if (attr.attname === 'tenant_id') tenantAttnum.set(attr.attrelid, attr.attnum);
        }
        const inSchema = new Set(
          introspection.classes.filter((c) => c.getNamespace()?.nspname === SCHEMA).map((c) => c._id),
        );
        for (const con of introspection.constraints) {
          if (!['p', 'u', 'f'].includes(con.contype) || !inSchema.has(con.conrelid) || !con.conkey) continue;
          const own = tenantAttnum.get(con.conrelid);
          const index = own === undefined ? -1 : con.conkey.indexOf(own);
          if (index < 0) continue;
          if (con.conkey.length === 1) {
            if (con.contype !== 'f') state.keyedByTenant.add(con.conrelid);
            continue;
          }
          if (con.contype === 'f') {
            const theirs = tenantAttnum.get(con.confrelid ?? '');
            if (!con.confkey || con.confkey[index] !== theirs) continue;
            con.confkey = con.confkey.filter((_, i) => i !== index);
          }
          con.conkey = con.conkey.filter((_, i) => i !== index);
        }
      },
      async pgCodecs_attribute(info, event) {
        const state = info.state as State;
        const { pgAttribute, attribute } = event;
        const pgClass = pgAttribute.getClass();
        if (pgAttribute.attname !== 'tenant_id' || pgClass?.getNamespace()?.nspname !== SCHEMA) return;
        if (state.keyedByTenant.has(pgClass._id)) return;
        attribute.extensions ??= {};
        attribute.extensions.tags ??= {};
        attribute.extensions.tags.behavior = ['-*'];
      },
    },
  },
};
