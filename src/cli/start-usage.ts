/** `npm start -- --help`. */
export const START_USAGE = `
Usage: npm start [-- --help]

Runs PenguinMails in one process: PostgreSQL (embedded, with its data in
PM_DATA_DIR, unless DATABASE_URL is set), migrated to this checkout, the
GraphQL API with Ruru, and the worker. Ctrl-C (SIGINT) or SIGTERM stops it
cleanly: requests and jobs in flight finish first.

Environment (all optional in development; see README.md and docs/):
  PORT, HOST           where the API listens (default 3000, 127.0.0.1)
  DATABASE_URL         use this PostgreSQL instead of the embedded one
  PM_DATA_DIR          data folder of the embedded database, dev secrets and
                       the outbox (default .data); one npm start per folder
  WORKER=false         run the API alone (then: npm run worker, one or more)
  WORKER_CONCURRENCY   jobs run at once by the worker (default 4)
  PUBLIC_URL           public base of tracking/unsubscribe links (default:
                       this server's URL)
  TRACKING_CNAME_TARGET the host custom tracking domains must be a CNAME to
                       (default: the host of PUBLIC_URL)
  APP_URL              the client app that invitation and password-reset
                       links open (default PUBLIC_URL, else this server,
                       which then explains how to finish with the API)
  SYSTEM_SMTP_URL      SMTP server for invitations and password resets
                       (default: .eml files in PM_DATA_DIR/outbox)
  SANDBOX=false        no development sandbox (on by default in development:
                       a mail catcher on SMTP 127.0.0.1:SANDBOX_SMTP_PORT
                       (2525), a DNS server on 127.0.0.1:SANDBOX_DNS_PORT
                       (2553) that domain checks ask; caught mail at
                       /sandbox; never in production)
  METRICS_TOKEN        require "Authorization: Bearer <token>" on /metrics
  LOG_LEVEL            debug | info | warn | error | silent (default info)
  NODE_ENV=production  no Ruru, no introspection; DATABASE_URL, JWT_SECRET,
                       PM_SECRETS_KEY and AUTHENTICATOR_PASSWORD required
`;
