#!/bin/sh
# The container's entrypoint: migrate the database, then become the service.
# `exec` hands PID 1 to classbridge so SIGTERM from `docker stop` shuts it down
# gracefully (devices get close code 1001 and reconnect elsewhere).
#
# MIGRATE_ON_START=false skips the migration (set on every replica but one, so
# two instances never run Alembic against the same database at once).
set -eu

if [ "$#" -eq 0 ] || [ "$1" = "serve" ]; then
    if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
        classbridge db upgrade
    fi
    exec classbridge serve
fi
# Anything else is a classbridge command: `docker run ... user add --email ...`.
exec classbridge "$@"
