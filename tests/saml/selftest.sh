#!/bin/bash
# Self-test of the SAML test infrastructure: starts IdP a and IdP b
# (SimpleSAMLphp under php -S on 127.0.0.1), drives them like a browser with
# a lasso-based SP, checks every forge.py case, then stops both IdPs.
#
#   tests/saml/selftest.sh            exit 0 all passed, 1 failures, 77 missing packages
#   KEEP=1 tests/saml/selftest.sh     keep the run directory (logs, keys, env files)
#
# Packages (Debian 12): simplesamlphp php-cli php-xml php-mbstring python3-lasso
# python3-lxml xmlsec1 openssl curl.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

missing=()
command -v php >/dev/null || missing+=(php-cli)
[ -d /usr/share/simplesamlphp/www ] || missing+=(simplesamlphp)
php_modules=$(php -m 2>/dev/null || true)
grep -qix 'dom' <<<"$php_modules" || missing+=(php-xml)
grep -qix 'mbstring' <<<"$php_modules" || missing+=(php-mbstring)
"$PY" -c 'import lasso' 2>/dev/null || missing+=(python3-lasso)
"$PY" -c 'import lxml' 2>/dev/null || missing+=(python3-lxml)
command -v xmlsec1 >/dev/null || missing+=(xmlsec1)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
	echo "selftest.sh: SKIP, missing packages: ${missing[*]}" >&2
	exit 77
fi

RUN=$(mktemp -d "${TMPDIR:-/tmp}/dadm-saml-selftest.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	"$HERE/idp.sh" stop "$RUN/idp-a" >/dev/null 2>&1 || true
	"$HERE/idp.sh" stop "$RUN/idp-b" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "selftest.sh: run directory kept: $RUN"
	else
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT

# Three free ports on 127.0.0.1 (IdP a, IdP b, the SP's: nothing listens there).
read -r PORT_A PORT_B SP_PORT < <("$PY" - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)

openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -subj "/O=dadm tests/CN=sp" \
	-keyout "$RUN/sp.key" -out "$RUN/sp.crt" 2>/dev/null

"$HERE/idp.sh" start "$RUN/idp-a" a "$PORT_A" "$SP_PORT" "$RUN/sp.crt"
"$HERE/idp.sh" start "$RUN/idp-b" b "$PORT_B" "$SP_PORT" "$RUN/sp.crt"

rc=0
"$PY" "$HERE/selftest.py" --sp-key "$RUN/sp.key" --sp-cert "$RUN/sp.crt" \
	"$RUN/idp-a/env" "$RUN/idp-b/env" || rc=$?
if [ $rc -ne 0 ]; then
	for d in idp-a idp-b; do
		for f in "$RUN/$d/log/simplesamlphp.log" "$RUN/$d/log/php-errors.log"; do
			[ -s "$f" ] && { echo "--- $f (tail)"; tail -n 15 "$f"; }
		done
	done
fi
exit $rc
