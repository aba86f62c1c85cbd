/**
 * Connections without an `orderBy` come back in their rows' natural order
 * instead of primary-key order (random for our v4 ids): a campaign's steps by
 * position, named things by name, logs and periods by time. Only indexed
 * columns are orderable (see api-shape.ts), so every order named here is one
 * an index serves; the primary key follows as the tie-break, so pages are
 * stable. Tables not listed keep Amber's PRIMARY_KEY_ASC, which for messages
 * and events is already time order (UUIDv7 ids). Leads are not listed:
 * created is shared by every lead of one import, and sorting those ties by id
 * is a sort of the whole import on each page (orderBy: CREATED_ASC when
 * wanted).
 */
import 'graphile-config';
import 'postgraphile';

/** Table name → its default orderBy (enum value names of the table's OrderBy type). */
export const NATURAL_ORDER: Record<string, string[]> = {
  campaign_sequence_steps: ['STEP_ORDER_ASC'],
  campaign_step_variants: ['LABEL_ASC'],
  campaign_stats_daily: ['DAY_ASC'],
  audit_log: ['OCCURRED_AT_ASC'],
  platform_audit_log: ['OCCURRED_AT_ASC'],
  usage_periods: ['PERIOD_START_ASC'],
  contact_lists: ['NAME_ASC'],
  templates: ['NAME_ASC'],
  folders: ['NAME_ASC'],
  tags: ['VALUE_ASC'],
  custom_field_definitions: ['KEY_ASC'],
  email_accounts: ['EMAIL_ASC'],
  domains: ['DOMAIN_ASC'],
  suppressions: ['EMAIL_ASC'],
  crm_accounts: ['NAME_ASC'],
  plans: ['SLUG_ASC'],
  permissions: ['NAME_ASC'],
  staff_roles: ['NAME_ASC'],
  feature_flags: ['KEY_ASC'],
  system_config: ['KEY_ASC'],
  smtp_ip_addresses: ['IP_ADDRESS_ASC'],
};

export const NaturalOrderPlugin: GraphileConfig.Plugin = {
  name: 'NaturalOrderPlugin',
  description: "Default orderBy of a connection: its rows' natural order (NATURAL_ORDER), then the primary key.",
  version: '1.0.0',
  after: ['PgConnectionArgOrderByDefaultValuePlugin'],
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args_arg(arg, build, context) {
        const { scope: { isPgFieldConnection, pgFieldResource: resource, argName } } = context;
        if (argName !== 'orderBy' || !isPgFieldConnection || !resource || resource.parameters || !resource.codec.attributes) return arg;
        const table = resource.codec.extensions?.pg?.name;
        const order = table ? NATURAL_ORDER[table] : undefined;
        if (!order) return arg;
        const OrderBy = build.getTypeByName(build.inflection.orderByType(build.inflection.tableType(resource.codec)));
        if (!OrderBy || !build.graphql.isEnumType(OrderBy)) return arg;
        const values = [...order, 'PRIMARY_KEY_ASC'].map((name) => {
          const value = OrderBy.getValue(name);
          // A renamed or no longer indexed column: fail the schema build rather than silently fall back.
          if (!value) throw new Error(`NaturalOrderPlugin: ${OrderBy.name} has no value ${name} (table ${table}).`);
          return value.value;
        });
        // Replaces the PRIMARY_KEY_ASC default set before us (extend() would refuse to overwrite it).
        return { ...arg, defaultValue: values };
      },
    },
  },
};
