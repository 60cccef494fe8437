#!/bin/sh
# First start: a cluster owned by POSTGRES_USER (password auth over TCP, trust on the
# local socket in /tmp), and the database POSTGRES_DB; then PostgreSQL in the foreground.
set -eu
BIN=/usr/lib/postgresql/15/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:?}" > "$pw"
  "$BIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:?}" --pwfile="$pw" \
    --auth-host=scram-sha-256 --auth-local=trust >/dev/null
  rm -f "$pw"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
  "$BIN/psql" -h /tmp -U "$POSTGRES_USER" -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE \"${POSTGRES_DB:-$POSTGRES_USER}\"" >/dev/null
  "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
