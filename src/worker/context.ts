/**
 * What tasks need from the outside world, passed in once so tests can point
 * them at their own peers (SMTP, DNS, Stripe servers on 127.0.0.1).
 */
import type { Env } from '../config.ts';
import type { SystemMailer } from '../mail/system-mailer.ts';

export interface WorkerDeps {
  env: Env;
  systemMailer: SystemMailer;
}
