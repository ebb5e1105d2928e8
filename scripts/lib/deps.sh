# Debian packages the two README commands need, installed when missing.
# Sourced by scripts/run and scripts/test.

DADM_BUILD_PACKAGES="build-essential autoconf automake libtool pkg-config
    libmicrohttpd-dev libpq-dev liblasso3-dev libjansson-dev check libsubunit-dev
    libglib2.0-dev libcurl4-openssl-dev libargon2-dev libldap2-dev libssl-dev"
DADM_RUN_PACKAGES="postgresql postgresql-client curl"
DADM_TEST_PACKAGES="python3 python3-psycopg2 python3-yaml python3-jsonschema valgrind
    simplesamlphp php-cli php-xml php-mbstring php-curl python3-lasso python3-lxml xmlsec1 openssl
    slapd ldap-utils clamav-daemon"

# deps_install PACKAGE... : installs those not installed yet (as root with
# apt-get; otherwise names them and fails).
deps_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null; then
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                "${missing[@]}" && return 0
        fi
        echo "Please install: ${missing[*]}" >&2
        return 1
    fi
    # The packages' own services (PostgreSQL's main cluster, slapd, apache2
    # pulled in by simplesamlphp) stay stopped: the scripts and tests start
    # private servers on loopback instead.
    local policy=/usr/sbin/policy-rc.d made=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1
    fi
    local rc=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null || rc=1
    [ -n "$made" ] && rm -f "$policy"
    return $rc
}

# build_tree DIR [configure options...] : configures (once) and builds in DIR.
build_tree() {
    local dir=$1
    shift
    [ -x "$DADM_ROOT/configure" ] || (cd "$DADM_ROOT" && ./autogen.sh >/dev/null 2>&1) || {
        echo "autogen.sh failed" >&2
        return 1
    }
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ "$DADM_ROOT/configure" -nt "$dir/Makefile" ]; then
        (cd "$dir" && "$DADM_ROOT/configure" -q "$@") || return 1
    fi
    make -s -C "$dir" -j"$(nproc)" >/dev/null
}
