/**
 * DKIM keys (pgcrypto cannot make RSA keys, so the worker does):
 * - dkim_key_pool_refill tops up the stock of sealed key pairs that new
 *   domains take in the statement that creates them;
 * - generate_dkim_key makes a key for a domain whose DKIM record is waiting
 *   (the stock was empty, or a rotation) and installs it.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { generateSealedDkimKey } from '../../src/dkim/keys.ts';
import type { TaskDeps } from '../../src/worker/context.ts';

const GeneratePayload = z.object({ tenant_id: z.uuid(), domain_id: z.uuid(), selector: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/) });

export function generateDkimKey(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = GeneratePayload.parse(rawPayload);
    const { secretBox, env: { DKIM_KEY_BITS: dkimKeyBits } } = deps;
    const key = await generateSealedDkimKey(secretBox, dkimKeyBits);
    const { rows } = await helpers.query<{ installed: boolean }>(
      'select app_private.install_dkim_key($1, $2, $3, $4, $5, $6) as installed',
      [payload.tenant_id, payload.domain_id, payload.selector, key.publicKey, key.privateKeyEncrypted, key.bits],
    );
    helpers.logger.debug(`DKIM key for domain ${payload.domain_id} (${payload.selector}): ${rows[0]?.installed ? 'installed' : 'not needed any more'}`);
  };
}

export function refillDkimKeyPool(deps: TaskDeps): Task {
  return async (_payload, helpers) => {
    const { secretBox, env: { DKIM_KEY_BITS: dkimKeyBits } } = deps;
    await helpers.query('select app_private.release_orphaned_dkim_claims()');
    // Re-read the shortfall after each key: domains may take keys meanwhile.
    for (let made = 0; made < 100; made++) {
      const { rows } = await helpers.query<{ shortfall: number }>('select app_private.dkim_pool_shortfall() as shortfall');
      if ((rows[0]?.shortfall ?? 0) <= 0) return;
      const key = await generateSealedDkimKey(secretBox, dkimKeyBits);
      await helpers.query('insert into app_private.dkim_key_pool (public_key, private_key_encrypted, key_bits) values ($1, $2, $3)', [
        key.publicKey,
        key.privateKeyEncrypted,
        key.bits,
      ]);
    }
  };
}
