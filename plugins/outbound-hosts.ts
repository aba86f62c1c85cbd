/**
 * Write-time check of inbox server hosts: createEmailAccount and
 * updateEmailAccount refuse an SMTP or IMAP `host` that is a literal private
 * or reserved IP (loopback, RFC 1918, link-local, …) with INVALID_INPUT,
 * unless the operator's OUTBOUND_ALLOW_PRIVATE lists it. Hostnames are not
 * resolved here: what they point at can change, so the worker checks every
 * connection again (src/net/outbound-guard.ts); this only catches the obvious
 * case early, before anything is written.
 */
import 'graphile-config';
import 'postgraphile';
import { lambda, list, object, SafeError, sideEffect, trap, TRAP_ERROR, type FieldArgs, type Step } from 'postgraphile/grafast';
import { wrapPlans } from 'postgraphile/utils';
import { hostOf, REFUSED_MESSAGE, type OutboundGuard } from '../src/net/outbound-guard.ts';
import { isIP } from 'node:net';

type Settings = { host?: unknown } | null | undefined;

export function makeOutboundHostsPlugin(guard: OutboundGuard): GraphileConfig.Plugin {
  const checkHost = (settings: Settings, field: string) => {
    if (!settings || typeof settings !== 'object' || typeof settings.host !== 'string') return;
    const host = hostOf(settings.host);
    if (isIP(host) && !guard.permits(host)) {
      throw new SafeError(`${field}.host: ${REFUSED_MESSAGE}; use the server's public address or name.`, { code: 'INVALID_INPUT' });
    }
  };
  /**
   * Checks the settings at `path` of the field's input before the mutation: a
   * side effect, so every step planned after it (the mutation) waits for it
   * and does not run when it fails.
   */
  const guarded = (path: string[]) => (plan: () => Step, _$source: unknown, fieldArgs: FieldArgs) => {
    const $hosts = sideEffect(fieldArgs.getRaw(path), (values: unknown) => {
      const v = (values ?? {}) as { smtpSettings?: Settings; imapSettings?: Settings };
      checkHost(v.smtpSettings, 'smtpSettings');
      checkHost(v.imapSettings, 'imapSettings');
      return null;
    });
    const $payload = plan() as Step & { getStepForKey?(key: string, allowMissing: true): Step | null };
    const $checked = typeof $payload.getStepForKey === 'function' ? $payload.getStepForKey('checked', true) : null;
    const $result = $checked ? $payload.getStepForKey!('result', true) : null;
    if (!$checked || !$result) return $payload;
    // An update (wrapped by MutationGuardsPlugin): the refused host, not "nothing was changed", is the error reported.
    const $first = lambda(list([$hosts, trap($checked, TRAP_ERROR)]), ([, checked]) => {
      if (checked instanceof Error) throw checked;
      return checked;
    });
    return object({ checked: $first, result: $result });
  };
  const plugin = wrapPlans({
    Mutation: {
      createEmailAccount: guarded(['input', 'emailAccount']),
      updateEmailAccount: guarded(['input', 'patch']),
    },
  });
  // After MutationGuardsPlugin, so updates get its payload to put the host check in front of.
  return { ...plugin, name: 'OutboundHostsPlugin', after: ['MutationGuardsPlugin'] };
}
