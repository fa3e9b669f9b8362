#!/bin/bash
# A hot-standby replica of the primary: copied with pg_basebackup on first start, then
# following the primary's write-ahead log. Read-only; the portal sends it anonymous readers'
# queries when DATABASE_REPLICA_URL points at it.
set -euo pipefail
export PGPASSWORD="$REPLICATION_PASSWORD"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_basebackup --host="$PRIMARY_HOST" --username=replicator --pgdata="$PGDATA" \
            --write-recovery-conf --wal-method=stream --progress; do
        echo "waiting for the primary at $PRIMARY_HOST"; sleep 2
    done
    chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on
