/**
 * A function returning `table (…)` gets a GraphQL type named after the
 * function plus "Record" (`my_memberships()` → `MyMembershipsRecord`). The
 * smart tag `@resultTypeName Membership` in the function's comment names
 * that type instead.
 */
import 'graphile-config';
import 'postgraphile';

export const ResultTypeNamesPlugin: GraphileConfig.Plugin = {
  name: 'ResultTypeNamesPlugin',
  description: 'The @resultTypeName smart tag names the row type of a function returning a table.',
  version: '1.0.0',
  inflection: {
    replace: {
      functionRecordReturnCodecName(previous, options, details) {
        const name = details.pgProc.getTags().resultTypeName;
        return typeof name === 'string' && name ? name : previous!.call(this, details);
      },
    },
  },
};
