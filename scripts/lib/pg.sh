# Private PostgreSQL clusters for dadm, listening only on a Unix socket.
# Sourced by scripts/run and the integration tests. A cluster lives in one
# folder: data/ (the cluster), run/ (the socket), log (the server's log).
#
#   pg_init DIR           create the cluster (once)
#   pg_start DIR [fast]   start it; "fast" trades durability for speed (tests)
#   pg_stop DIR           stop it (quietly does nothing when not running)
#   pg_bootstrap DIR      create the roles dadm_owner and dadm_app and the
#                         database dadm (idempotent)
#   pg_conninfo DIR ROLE  the libpq connection string for ROLE

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] || { echo "PostgreSQL server binaries not found (install postgresql)" >&2; return 1; }
    echo "$d"
}

# initdb and postgres refuse to run as root: run them as the postgres user.
pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_superuser() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

pg_init() {
    local dir bin
    dir=$(realpath -m "$1")
    bin=$(pg_bindir) || return 1
    [ -f "$dir/data/PG_VERSION" ] && return 0
    mkdir -p "$dir/data" "$dir/run"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir" "$dir/data" "$dir/run"
        chmod 755 "$dir"
    fi
    chmod 700 "$dir/data"
    pg_as "$bin/initdb" -D "$dir/data" -U "$(pg_superuser)" -A trust -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; return 1; }
}

# Shared buffers: a quarter of the memory, at most 1 GB. PostgreSQL's default
# (128 MB) is sized for a minimal install: the accounts of a 230,000-person
# establishment take 93 MB and their indexes 55 MB, and a first directory
# load evicted and re-read its own index pages (6.4-11 s for the insert of
# 230,000 accounts, 5.7 s with 1 GB).
pg_shared_buffers() {
    awk '/^MemTotal:/ { mb = int($2 / 4096); if (mb > 1024) mb = 1024; if (mb < 128) mb = 128
        print mb "MB" }' /proc/meminfo
}

pg_start() {
    local dir mode=${2:-} bin opts
    dir=$(realpath -m "$1")
    bin=$(pg_bindir) || return 1
    opts="-c listen_addresses='' -k $dir/run -c unix_socket_permissions=0700"
    opts="$opts -c shared_buffers=$(pg_shared_buffers)"
    if [ "$mode" = fast ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "$opts" -w -t 60 start >/dev/null ||
        { tail -n 20 "$dir/log" >&2; return 1; }
}

pg_stop() {
    local dir bin
    dir=$(realpath -m "$1")
    bin=$(pg_bindir) || return 0
    [ -f "$dir/data/postmaster.pid" ] || return 0
    pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

pg_psql() {
    local dir
    dir=$(realpath -m "$1")
    shift
    "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/run" -U "$(pg_superuser)" "$@"
}

pg_bootstrap() {
    local dir=$1
    pg_psql "$dir" -d postgres <<'SQL' >/dev/null
SELECT 'CREATE ROLE dadm_owner LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dadm_owner') \gexec
SELECT 'CREATE ROLE dadm_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dadm_app') \gexec
SELECT 'CREATE DATABASE dadm OWNER dadm_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'dadm') \gexec
SQL
    pg_psql "$dir" -d dadm -c 'REVOKE ALL ON SCHEMA public FROM PUBLIC' \
        -c 'GRANT SET ON PARAMETER session_replication_role TO dadm_owner' >/dev/null
}

pg_conninfo() {
    echo "host=$(realpath -m "$1")/run dbname=dadm user=$2"
}
