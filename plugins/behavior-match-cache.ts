/**
 * A faster `build.behavior.entityMatches(type, entity, filter)` with the same
 * answers.
 *
 * graphile-build 5.1 recomputes the answer on every call: it scans the whole
 * behavior registry to check the filter is registered for the entity type,
 * then parses the entity's full behavior string (hundreds of specs) to match
 * the filter. Schema building asks this tens of thousands of times, and a
 * profile of `makeSchema` on this schema spent over half of its CPU there
 * (`parseScope`, `parseSpecs`, `stringMatches`): 4–6 s of CPU per API server
 * start, which is what made test set-up slow on a loaded machine.
 *
 * Here the registry check (which only registers an unknown filter, or warns)
 * runs through the original method once per entity type and filter, and the
 * match itself reads each behavior string parsed once. The entity's behavior
 * string still comes from graphile-build (`getBehaviorForEntity`, which
 * caches it per entity), and the matching below is graphile-build's own
 * (`stringMatches`/`scopeMatches`, 5.1.1), so the schema is the same:
 * `test/api/schema.test.ts` compares it with the committed schema.graphql.
 *
 * Behavior is frozen after the build phase and not exported, so the method is
 * wrapped on its prototype, once, when the first build reaches `init`.
 */
import 'graphile-config';
import 'postgraphile';

type EntityMatches = (entityType: string, entity: unknown, filter: string) => boolean | undefined;
interface BehaviorInstance {
  getBehaviorForEntity(entityType: string, entity: unknown): { behaviorString: string };
}
interface Spec {
  positive: boolean;
  scope: string[];
}

const WRAPPED = Symbol.for('penguinmails.behaviorMatchCache');

/** graphile-build's parseSpecs: `+a:b -c` → specs, `+` implicit. */
function parseSpecs(behaviorString: string): Spec[] {
  const specs: Spec[] = [];
  for (const fragment of behaviorString.split(/\s+/)) {
    if (fragment === '') continue;
    const signed = fragment[0] === '+' || fragment[0] === '-';
    specs.push({ positive: !signed || fragment[0] === '+', scope: (signed ? fragment.slice(1) : fragment).split(':') });
  }
  return specs;
}

/** graphile-build's scopeMatches: the specified scope is right-aligned with the filter's, `*` matching anything. */
function scopeMatches(specified: string[], filter: string[], positive: boolean): boolean {
  if (specified.length > filter.length) return false;
  const offset = filter.length - specified.length;
  for (let i = 0; i < specified.length; i++) {
    const rule = specified[i]!;
    const wanted = filter[offset + i]!;
    if (wanted === '*' && rule !== '*' && !positive) return false;
    if (rule === '*' || wanted === '*') continue;
    if (rule !== wanted) return false;
  }
  return true;
}

/** graphile-build's stringMatches over specs parsed once: the last spec matching the filter decides. */
function specsMatch(specs: Spec[], filter: string[]): boolean | undefined {
  for (let i = specs.length - 1; i >= 0; i--) {
    const { positive, scope } = specs[i]!;
    if (scopeMatches(scope, filter, positive)) return positive;
  }
  return undefined;
}

function wrapEntityMatches(behavior: object): void {
  const proto = Object.getPrototypeOf(behavior) as { entityMatches: EntityMatches; [WRAPPED]?: true };
  if (proto[WRAPPED]) return;
  const original = proto.entityMatches;
  // Per Behavior instance (one per schema build): the (entity type, filter)
  // pairs the original method already checked against the registry, and the
  // behavior strings and filters parsed (the strings are few and long).
  const states = new WeakMap<object, { checked: Set<string>; specs: Map<string, Spec[]>; filters: Map<string, string[]> }>();
  proto.entityMatches = function (this: BehaviorInstance & object, entityType: string, entity: unknown, filter: string) {
    let state = states.get(this);
    if (!state) states.set(this, (state = { checked: new Set(), specs: new Map(), filters: new Map() }));
    const pair = `${entityType}\u0000${filter}`;
    // The first time: the original registers or warns about the filter (and validates it).
    if (!state.checked.has(pair)) {
      state.checked.add(pair);
      return original.call(this, entityType, entity, filter);
    }
    const behaviorString = this.getBehaviorForEntity(entityType, entity).behaviorString;
    let specs = state.specs.get(behaviorString);
    if (!specs) state.specs.set(behaviorString, (specs = parseSpecs(behaviorString)));
    let filterScope = state.filters.get(filter);
    if (!filterScope) state.filters.set(filter, (filterScope = filter.split(':')));
    return specsMatch(specs, filterScope);
  };
  Object.defineProperty(proto, WRAPPED, { value: true });
}
export const BehaviorMatchCachePlugin: GraphileConfig.Plugin = {
  name: 'BehaviorMatchCachePlugin',
  version: '1.0.0',
  description: 'Remembers entityMatches answers for the life of a schema build (graphile-build recomputes them on every call).',
  schema: {
    hooks: {
      init(init, build) {
        wrapEntityMatches(build.behavior);
        return init;
      },
    },
  },
};
