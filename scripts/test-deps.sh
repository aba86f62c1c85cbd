#!/usr/bin/env bash
# The system packages the test suite runs against, installed from Debian's
# archive when missing (the first `npm test` on a fresh machine, as root):
# PostgreSQL 15 (the suite runs on 18 embedded and on 15), dovecot (a real IMAP
# server for the IMAP tests; test/helpers/dovecot.ts starts its own unprivileged
# instance, the system service is not used). Prints nothing when all is there.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
[ "${#need[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing Debian packages: ${need[*]}; install them (as root: apt-get install ${need[*]}) and run npm test again" >&2
  exit 1
fi
echo "test-deps: installing Debian's ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
