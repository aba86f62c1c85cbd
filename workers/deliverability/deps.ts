/**
 * The outside-world dependencies of the deliverability tasks, from WorkerDeps
 * when a test (or the platform) injects them, otherwise built once from the
 * environment.
 */
import { secretsKeyOf } from '../../src/config.ts';
import { makeSecretBox, type SecretBox } from '../../src/crypto/secrets.ts';
import { dnsResolverFromEnv, type DnsResolver } from '../../src/dns/resolver.ts';
import type { WorkerDeps } from '../../src/worker/context.ts';

export interface DeliverabilityDeps {
  dns: DnsResolver;
  secretBox: SecretBox;
  dnsblZones: readonly string[];
  dkimKeyBits: number;
}

const built = new WeakMap<WorkerDeps, DeliverabilityDeps>();

export function deliverabilityDeps(deps: WorkerDeps): DeliverabilityDeps {
  let found = built.get(deps);
  if (!found) {
    found = {
      dns: deps.dns ?? dnsResolverFromEnv(deps.env),
      secretBox: deps.secretBox ?? makeSecretBox(secretsKeyOf(deps.env)),
      dnsblZones: deps.env.DNSBL_ZONES,
      dkimKeyBits: deps.env.DKIM_KEY_BITS,
    };
    built.set(deps, found);
  }
  return found;
}
