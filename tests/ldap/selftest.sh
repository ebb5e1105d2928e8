#!/bin/bash
# Checks the test directory itself, end to end, against a throw-away instance:
# start-up, loopback-only listeners, access control, sample data, size limit and
# paging, TLS with the right and the wrong CA, content synchronisation with
# cookies, filter escaping, offline loading, stop. Prints TAP; exits 1 on failure.
#
#   tests/ldap/selftest.sh [PORT]      PORT and PORT+1 must be free (default: 38389)
#
# KEEP=1 keeps the instance directory (it is stopped either way).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SLAPD_SH=$HERE/slapd.sh
GEN=$ROOT/bench/ldap/gen-people
PORT=${1:-38389}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/dadm-ldap-selftest.XXXXXX")
n=0
failed=0

cleanup() {
	"$SLAPD_SH" stop "$DIR" >/dev/null 2>&1
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# instance kept in $DIR"
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT

ok() { # description, then the command's status in $?
	local rc=$?
	n=$((n + 1))
	if [ $rc -eq 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
	fi
}

is() { # got expected description
	n=$((n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $n - $3"
	else
		echo "not ok $n - $3 (got '$1', expected '$2')"
		failed=$((failed + 1))
	fi
}

count() { grep -cE '^dn::? ' || true; }

# search AS BASE [ldapsearch args...]; AS is svc-a, svc-b, sync-a, sync-b, root-a, root-b, anon
search() {
	local who=$1 base=$2
	shift 2
	local auth=()
	case $who in
	svc-a) auth=(-D "$LDAP_A_BIND_DN" -w "$LDAP_A_BIND_PW") ;;
	svc-b) auth=(-D "$LDAP_B_BIND_DN" -w "$LDAP_B_BIND_PW") ;;
	sync-a) auth=(-D "$LDAP_A_SYNC_DN" -w "$LDAP_A_SYNC_PW") ;;
	sync-b) auth=(-D "$LDAP_B_SYNC_DN" -w "$LDAP_B_SYNC_PW") ;;
	root-a) auth=(-D "$LDAP_A_ROOT_DN" -w "$LDAP_A_ROOT_PW") ;;
	root-b) auth=(-D "$LDAP_B_ROOT_DN" -w "$LDAP_B_ROOT_PW") ;;
	anon) ;;
	esac
	ldapsearch -x -H "$LDAP_URI" "${auth[@]}" -b "$base" -o ldif-wrap=no "$@"
}

for p in "$PORT" $((PORT + 1)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "Bail out! port $p is already in use"
		exit 1
	fi
done

# ---- start ----
t0=$(date +%s.%N)
"$SLAPD_SH" start "$DIR" "$PORT" >/dev/null
ok "start creates and starts an instance"
t1=$(date +%s.%N)
echo "# start-up took $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
# shellcheck source=/dev/null
# shellcheck source=/dev/null
. "$DIR/env"
[ -n "$SLAPD_PID" ] && kill -0 "$SLAPD_PID"
ok "SLAPD_PID names a live process"

if command -v ss >/dev/null; then
	addrs=$(ss -Hltnp | grep "pid=$SLAPD_PID," | awk '{print $4}' | sort | tr '\n' ' ')
	is "$addrs" "127.0.0.1:$LDAP_PORT 127.0.0.1:$LDAPS_PORT " "listens on 127.0.0.1 only"
fi

# ---- access control ----
got=$(search anon "$LDAP_A_BASE" -LLL 1.1 2>/dev/null | count)
is "$got" 0 "anonymous users see nothing"
ldapwhoami -x -H "$LDAP_URI" -D "$LDAP_A_BIND_DN" -w wrong >/dev/null 2>&1
is $? 49 "a wrong password is refused (49)"
ldapwhoami -x -H "$LDAP_URI" -D "$LDAP_A_BIND_DN" -w "$LDAP_B_BIND_PW" >/dev/null 2>&1
is $? 49 "univ-b's password does not open univ-a's account"
got=$(search svc-a "$LDAP_B_BASE" -LLL 1.1 2>/dev/null | count)
is "$got" 0 "univ-a's account sees nothing of univ-b"

# ---- samples ----
"$SLAPD_SH" load "$DIR" "$LDAP_A_BASE" "$HERE/data/univ-a.ldif" &&
	"$SLAPD_SH" load "$DIR" "$LDAP_B_BASE" "$HERE/data/univ-b.ldif"
ok "sample data loads online"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(objectClass=eduPerson)' 1.1 | count)
is "$got" 30 "univ-a: 30 eduPerson entries"
got=$(search svc-b "$LDAP_B_PEOPLE" -LLL '(objectClass=eduPerson)' 1.1 | count)
is "$got" 16 "univ-b: 16 eduPerson entries"
out=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(uid=mmartin)' entryUUID modifyTimestamp entryCSN)
grep -qE '^entryUUID: [0-9a-f-]{36}$' <<<"$out" &&
	grep -qE '^modifyTimestamp: [0-9]{14}Z$' <<<"$out" &&
	grep -qE '^entryCSN: ' <<<"$out"
ok "entryUUID, modifyTimestamp and entryCSN are readable"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=mmartin@univ-a.test)' 1.1 | count)
is "$got" 1 "eppn lookup is indexed and exact"

# ---- filter escaping on hostile values ----
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=*@univ-a.test)' 1.1 | count)
[ "$got" -gt 20 ]
ok "unescaped '*' in an eppn matches everybody ($got entries)"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=\2a@univ-a.test)' uid | grep '^uid:')
is "$got" "uid: star" "escaped '*' matches only uid=star"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=x\29\28uid=\2a\29\28x@univ-a.test)' uid | grep '^uid:')
is "$got" "uid: paren" "escaped parentheses match only uid=paren"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=back\5cslash@univ-a.test)' uid | grep '^uid:')
is "$got" 'uid: back\slash' "escaped backslash matches only uid=back\\slash"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=mmartin@univ-a.test\00.evil)' uid | grep '^uid:')
is "$got" "uid: nulbyte" "a zero byte (\\00) in an eppn is matched as such"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL '(eduPersonPrincipalName=mmartin@univ-a.test)' uid | grep -c '^uid:')
is "$got" 1 "mmartin's eppn does not match the eppn with a zero byte"

# ---- size limit and paging ----
"$GEN" -n 1200 -b "$LDAP_B_BASE" -u "$LDAP_B_UAI" | "$SLAPD_SH" load "$DIR" "$LDAP_B_BASE" -
ok "1200 generated persons load online into univ-b"
got=$(search svc-b "$LDAP_B_PEOPLE" -LLL '(objectClass=eduPerson)' 1.1 2>/dev/null | count)
search svc-b "$LDAP_B_PEOPLE" -LLL '(objectClass=eduPerson)' 1.1 >/dev/null 2>&1
rc=$?
is "$rc/$got" "4/500" "unpaged search as cn=dadm: 500 entries, then sizeLimitExceeded (4)"
got=$(search svc-b "$LDAP_B_PEOPLE" -LLL -E pr=1000/noprompt '(objectClass=eduPerson)' 1.1 | count)
is "$got" 1216 "paged search (pages of 1000) as cn=dadm returns all 1216"
got=$(search svc-b "$LDAP_B_PEOPLE" -LLL -E pr=100/noprompt '(objectClass=eduPerson)' 1.1 | count)
is "$got" 1216 "paged search (pages of 100) returns all 1216"
search svc-b "$LDAP_B_PEOPLE" -LLL -E pr=1001/noprompt '(objectClass=eduPerson)' 1.1 >/dev/null 2>&1
is $? 11 "a page larger than 1000 is refused: adminLimitExceeded (11)"
got=$(search sync-b "$LDAP_B_PEOPLE" -LLL '(objectClass=eduPerson)' 1.1 | count)
is "$got" 1216 "cn=dadm-sync has no size limit"

# ---- TLS ----
LDAPTLS_REQCERT=demand LDAPTLS_CACERT=$LDAP_CA_CERT ldapwhoami -x -ZZ -H "$LDAP_URI" \
	-D "$LDAP_A_BIND_DN" -w "$LDAP_A_BIND_PW" >/dev/null 2>&1
ok "StartTLS with the instance CA"
! LDAPTLS_REQCERT=demand LDAPTLS_CACERT=$LDAP_BAD_CA_CERT ldapwhoami -x -ZZ -H "$LDAP_URI" \
	-D "$LDAP_A_BIND_DN" -w "$LDAP_A_BIND_PW" >/dev/null 2>&1
ok "StartTLS with the untrusted CA fails"
LDAPTLS_REQCERT=demand LDAPTLS_CACERT=$LDAP_CA_CERT ldapwhoami -x -H "$LDAPS_URI" \
	-D "$LDAP_B_BIND_DN" -w "$LDAP_B_BIND_PW" >/dev/null 2>&1
ok "ldaps with the instance CA"
! LDAPTLS_REQCERT=demand LDAPTLS_CACERT=$LDAP_BAD_CA_CERT ldapwhoami -x -H "$LDAPS_URI" \
	-D "$LDAP_B_BIND_DN" -w "$LDAP_B_BIND_PW" >/dev/null 2>&1
ok "ldaps with the untrusted CA fails"
got=$(openssl s_client -connect "127.0.0.1:$LDAPS_PORT" -CAfile "$LDAP_CA_CERT" \
	-verify_return_error -verify_ip 127.0.0.1 </dev/null 2>/dev/null | grep -c 'Verify return code: 0 (ok)')
is "$got" 1 "the server certificate is valid for IP 127.0.0.1 (openssl)"

# ---- content synchronisation (RFC 4533, refreshOnly) ----
out=$(search sync-a "$LDAP_A_BASE" -E sync=ro '(objectClass=eduPerson)' uid)
ok "sync=ro refresh as cn=dadm-sync"
got=$(count <<<"$out")
is "$got" 30 "initial refresh sends all 30 persons"
cookie=$(sed -n 's/^# cookie: //p' <<<"$out" | tail -n 1)
[ -n "$cookie" ]
ok "the refresh ends with a cookie ($cookie)"
ldapmodify -x -H "$LDAP_URI" -D "$LDAP_A_ROOT_DN" -w "$LDAP_A_ROOT_PW" >/dev/null <<-EOF
	dn: uid=jbernard,ou=people,$LDAP_A_BASE
	changetype: modify
	replace: telephoneNumber
	telephoneNumber: +33 3 88 41 99 99
EOF
ldapdelete -x -H "$LDAP_URI" -D "$LDAP_A_ROOT_DN" -w "$LDAP_A_ROOT_PW" "uid=tnguyen,ou=people,$LDAP_A_BASE"
ok "the rootdn modifies one person and deletes another"
out=$(search sync-a "$LDAP_A_BASE" -E "sync=ro/$cookie" '(objectClass=eduPerson)' uid)
got=$(grep '^uid:' <<<"$out" | tr '\n' ' ')
is "$got" "uid: jbernard " "refresh from the cookie sends only the modified person"
grep -q 'SyncInfo Received: ID Set' <<<"$out" && grep -q 'refreshDeletes=1' <<<"$out"
ok "... and the deleted one as a syncIdSet with refreshDeletes (session log)"
out=$(search svc-b "$LDAP_B_BASE" -E sync=ro '(objectClass=eduPerson)' 1.1 2>&1)
grep -q '^result: 4 ' <<<"$out"
ok "sync refresh as cn=dadm over 1216 entries hits the size limit"
out=$(search svc-b "$LDAP_B_BASE" -E sync=ro -E pr=1000/noprompt '(objectClass=eduPerson)' 1.1 2>&1)
got=$(count <<<"$out")
grep -q '^result: 0 ' <<<"$out" && [ "$got" = 1000 ]
ok "known slapd behaviour: sync + paged results stops after one page, with success ($got of 1216)"

# ---- offline load, restart ----
"$SLAPD_SH" stop "$DIR"
ok "stop"
"$SLAPD_SH" status "$DIR" >/dev/null
is $? 1 "status reports stopped"
"$GEN" -n 300 --first 900001 -b "$LDAP_A_BASE" -u "$LDAP_A_UAI" |
	"$SLAPD_SH" load "$DIR" "$LDAP_A_BASE" - 2>/dev/null
ok "300 persons load offline (slapadd -q)"
"$SLAPD_SH" start "$DIR" "$PORT" >/dev/null
ok "restart an existing instance"
# shellcheck source=/dev/null
. "$DIR/env"
got=$(search svc-a "$LDAP_A_PEOPLE" -LLL -E pr=1000/noprompt '(objectClass=eduPerson)' 1.1 | count)
is "$got" 329 "univ-a now holds 29 + 300 persons"
out=$(search sync-a "$LDAP_A_BASE" -E "sync=ro/$cookie" '(objectClass=eduPerson)' 1.1)
grep -q 'refreshDeletes=0' <<<"$out" || grep -q 'refreshDeletes=1' <<<"$out"
ok "an old cookie after a restart still gets a refresh (present or delete phase)"

# ---- stop ----
pid=$SLAPD_PID
"$SLAPD_SH" stop "$DIR"
st=$(ps -o stat= -p "$pid" 2>/dev/null || true)
{ [ -z "$st" ] || [[ $st == Z* ]]; } && [ ! -e "$DIR/run/slapd.pid" ]
ok "stop kills slapd by its PID file and removes the file"
! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
ok "port $PORT is closed"

echo "1..$n"
[ $failed -eq 0 ] || {
	echo "# $failed check(s) failed; slapd log: $DIR/slapd.log"
	KEEP=1
	exit 1
}
