#!/usr/bin/env bash
# Builds Citus from the vendored source release (../shared/vendor) against
# Debian's PostgreSQL 15 and installs it into that server's tree. The build is
# cached outside the clone, by version, so a second run only re-installs it
# (2 s) when the extension is missing from the server, and does nothing when
# it is there. Needs root (apt-get for the build dependencies, `make install`
# into /usr/lib/postgresql/15).
set -euo pipefail

CITUS_VERSION="${CITUS_VERSION:-13.2.2}"
PG_MAJOR=15
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
here="$(cd "$(dirname "$0")/.." && pwd)"
tarball="${CITUS_TARBALL:-$here/../shared/vendor/citus-$CITUS_VERSION.tar.gz}"
cache="${PM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/penguinmails}/citus-$CITUS_VERSION-pg$PG_MAJOR"

# The marker `make install` leaves: the library and the control file of this version.
installed() {
  [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/citus.so" ] &&
    grep -qs "default_version = '$CITUS_VERSION" "/usr/share/postgresql/$PG_MAJOR/extension/citus.control"
}

if installed; then
  echo "citus: $CITUS_VERSION already installed for PostgreSQL $PG_MAJOR"
  exit 0
fi

# One build at a time: test runs started together would otherwise install
# packages and compile in the same tree at once. The second waits, then finds
# it installed.
mkdir -p "$(dirname "$cache")"
exec 9>"$(dirname "$cache")/build-citus.lock"
flock 9
if installed; then
  echo "citus: $CITUS_VERSION already installed for PostgreSQL $PG_MAJOR"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
need=()
[ -x "/usr/lib/postgresql/$PG_MAJOR/bin/initdb" ] || need+=("postgresql-$PG_MAJOR")
# The server's headers (postgresql-$PG_MAJOR alone ships pg_config but not them).
[ -f "/usr/include/postgresql/$PG_MAJOR/server/postgres.h" ] || need+=("postgresql-server-dev-$PG_MAJOR")
for pkg in libcurl4-openssl-dev liblz4-dev libzstd-dev libssl-dev libkrb5-dev autoconf flex bison \
  libicu-dev libreadline-dev zlib1g-dev libselinux1-dev libxslt1-dev libpam0g-dev pkg-config make gcc; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "citus: installing build dependencies: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f "$cache/src/citus.so" ]; then
  [ -f "$tarball" ] || { echo "citus: source release not found at $tarball" >&2; exit 1; }
  echo "citus: building $CITUS_VERSION from $tarball into $cache (about 80 s on 2 cores)"
  rm -rf "$cache"
  mkdir -p "$cache/src"
  tar -xzf "$tarball" -C "$cache/src" --strip-components=1
  # PostgreSQL 15.20 exports have_createdb_privilege(), for which Citus 13.2.2
  # still defines a static fallback on 15 ("static declaration follows
  # non-static declaration"). When the server headers declare it, use theirs.
  if grep -qs 'extern bool have_createdb_privilege' "/usr/include/postgresql/$PG_MAJOR/server/commands/dbcommands.h"; then
    perl -0pi -e 's/static inline bool\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n/#include "commands\/dbcommands.h"\n/s' \
      "$cache/src/src/include/pg_version_compat.h"
  fi
  (
    cd "$cache/src"
    ./configure PG_CONFIG="$PG_CONFIG" --quiet >"$cache/configure.log" 2>&1
    make -j"$(nproc)" >"$cache/make.log" 2>&1
  ) || { echo "citus: build failed; see $cache/*.log" >&2; tail -30 "$cache/make.log" >&2 || true; exit 1; }
  # The built library, as a marker that the build finished.
  cp "$(find "$cache/src/src/backend/distributed" -name citus.so | head -1)" "$cache/src/citus.so"
fi

echo "citus: installing into PostgreSQL $PG_MAJOR"
(cd "$cache/src" && make install >"$cache/install.log" 2>&1) || { echo "citus: make install failed; see $cache/install.log" >&2; exit 1; }
echo "citus: $CITUS_VERSION installed"
