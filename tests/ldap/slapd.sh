#!/bin/bash
# Private OpenLDAP servers for dadm's directory tests.
#
#   slapd.sh start   DIR PORT          create the instance in DIR if needed, then start it
#   slapd.sh stop    DIR               stop it (TERM by PID file, then wait)
#   slapd.sh load    DIR SUFFIX FILE   load an LDIF (FILE may be -): slapadd -q when
#                                      stopped, ldapadd as the suffix's rootdn when running
#   slapd.sh status  DIR               exit 0 when running
#   slapd.sh destroy DIR               stop, then remove DIR
#
# One slapd serves two establishments, dc=univ-a,dc=test and dc=univ-b,dc=test,
# each an mdb database with ou=people, ou=structures, ou=system and two read-only
# accounts: cn=dadm,ou=system,<suffix>, limited like a typical service account
# (500 entries per search unless paged, pages of at most 1000), and
# cn=dadm-sync,ou=system,<suffix>, without size limit, for RFC 4533 content
# synchronisation (which cannot be paged). It listens on 127.0.0.1 only:
# ldap://127.0.0.1:PORT (StartTLS available) and ldaps://127.0.0.1:PORT+1, plus an
# ldapi socket in DIR when the path is short enough. Certificates come from a CA
# made for the instance; a second, unrelated CA is made for refusal tests.
# DIR/env holds everything a test needs (sh syntax, exported variables).
#
# Environment knobs (SLAPD_SIZELIMIT and SLAPD_PAGEMAX are read when DIR is created):
#   SLAPD_DEBUG        slapd debug level written to DIR/slapd.log  (default: stats)
#   SLAPD_SIZELIMIT    size limit of cn=dadm                        (default: 500)
#   SLAPD_PAGEMAX      largest page size cn=dadm may ask for        (default: 1000)
#   SLAPD_USER         run slapd as this user (DIR is chowned to it) (default: caller)

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCHEMA_SYS=/etc/ldap/schema
MODULE_PATH=/usr/lib/ldap
SLAPD=/usr/sbin/slapd
SLAPADD=/usr/sbin/slapadd

# Establishment table: tag suffix domain UAI name.
ETABS=(
	"a dc=univ-a,dc=test univ-a.test 0673021V Universite A"
	"b dc=univ-b,dc=test univ-b.test 0860856N Universite B"
)

die() {
	echo "slapd.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

abspath() {
	mkdir -p "$1"
	(cd "$1" && pwd)
}

# True while PID runs; a zombie waiting for its parent to reap it counts as gone.
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	local state
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

pid_of() {
	local pidfile=$1/run/slapd.pid
	[ -s "$pidfile" ] || return 1
	local pid
	pid=$(cat "$pidfile")
	alive "$pid" || return 1
	echo "$pid"
}

# ldapi URL of DIR, empty when the socket path would not fit in sun_path.
ldapi_url() {
	local sock=$1/run/ldapi
	[ ${#sock} -lt 100 ] || return 0
	printf 'ldapi://%s' "$(printf '%s' "$sock" | sed 's,/,%2F,g')"
}

make_ca() { # dir name subject
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/$2.key" -out "$1/$2.crt" -days 3650 -subj "$3" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_tls() {
	local tls=$1/tls san_host='' h
	mkdir -p "$tls"
	# libldap checks a certificate against the machine's own name, not
	# "localhost", when the URL says localhost; name the machine too.
	h=$(hostname 2>/dev/null || true)
	if [[ $h =~ ^[A-Za-z0-9.-]+$ ]] && [ "$h" != localhost ]; then
		san_host=", DNS:$h"
	fi
	make_ca "$tls" ca "/O=dadm tests/CN=dadm test CA"
	make_ca "$tls" bad-ca "/O=dadm tests/CN=dadm untrusted CA"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$tls/server.key" -out "$tls/server.csr" \
		-subj "/O=dadm tests/CN=localhost" 2>/dev/null
	cat >"$tls/server.ext" <<-EOF
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:localhost, IP:127.0.0.1$san_host
	EOF
	openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 825 \
		-extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
	rm -f "$tls/server.csr" "$tls/server.ext"
	chmod 600 "$tls"/*.key
}

hash_pw() { # password -> {SSHA} hash, without putting it on a command line
	local f
	f=$(mktemp)
	printf '%s' "$1" >"$f"
	slappasswd -h '{SSHA}' -T "$f"
	rm -f "$f"
}

write_config() { # dir cfgpw
	# cn=config is managed over ldapi by whoever runs this script (SASL EXTERNAL).
	local dir=$1 uid gid
	uid=$(id -u)
	gid=$(id -g)
	cat <<-EOF
		dn: cn=config
		objectClass: olcGlobal
		cn: config
		olcPidFile: $dir/run/slapd.pid
		olcArgsFile: $dir/run/slapd.args
		olcTLSCACertificateFile: $dir/tls/ca.crt
		olcTLSCertificateFile: $dir/tls/server.crt
		olcTLSCertificateKeyFile: $dir/tls/server.key
		olcTLSProtocolMin: 3.3
		olcTLSVerifyClient: never
		olcSizeLimit: 500
		olcTimeLimit: 3600
		olcToolThreads: 2
		olcLogLevel: none

		dn: cn=module{0},cn=config
		objectClass: olcModuleList
		cn: module{0}
		olcModulePath: $MODULE_PATH
		olcModuleLoad: back_mdb
		olcModuleLoad: syncprov

		dn: cn=schema,cn=config
		objectClass: olcSchemaConfig
		cn: schema

	EOF
	local s
	for s in "$SCHEMA_SYS/core.ldif" "$SCHEMA_SYS/cosine.ldif" \
		"$SCHEMA_SYS/inetorgperson.ldif" "$SCHEMA_SYS/nis.ldif" \
		"$HERE/schema/eduperson.ldif" "$HERE/schema/supann.ldif"; do
		cat "$s"
		echo
	done
	cat <<-EOF
		dn: olcDatabase={-1}frontend,cn=config
		objectClass: olcDatabaseConfig
		objectClass: olcFrontendConfig
		olcDatabase: {-1}frontend
		olcSizeLimit: 500
		olcAccess: {0}to dn.base="" by * read
		olcAccess: {1}to dn.base="cn=Subschema" by * read

		dn: olcDatabase={0}config,cn=config
		objectClass: olcDatabaseConfig
		olcDatabase: {0}config
		olcRootDN: cn=admin,cn=config
		olcRootPW: $(hash_pw "$2")
		olcAccess: {0}to * by dn.exact="gidNumber=$gid+uidNumber=$uid,cn=peercred,cn=external,cn=auth" manage by * none

	EOF
	local i=1 e tag suffix domain uai name
	for e in "${ETABS[@]}"; do
		read -r tag suffix domain uai name <<<"$e"
		local svc="cn=dadm,ou=system,$suffix" sync="cn=dadm-sync,ou=system,$suffix"
		cat <<-EOF
			dn: olcDatabase={$i}mdb,cn=config
			objectClass: olcDatabaseConfig
			objectClass: olcMdbConfig
			olcDatabase: {$i}mdb
			olcSuffix: $suffix
			olcDbDirectory: $dir/db/univ-$tag
			olcRootDN: cn=admin,$suffix
			olcRootPW: $(hash_pw "${ROOTPW[$tag]}")
			olcDbMaxSize: 8589934592
			olcDbNoSync: TRUE
			olcDbCheckpoint: 16384 10
			olcDbIndex: objectClass eq
			olcDbIndex: entryUUID eq
			olcDbIndex: entryCSN eq
			olcDbIndex: modifyTimestamp eq
			olcDbIndex: uid eq
			olcDbIndex: mail eq
			olcDbIndex: eduPersonPrincipalName eq
			olcDbIndex: supannAliasLogin eq
			olcSizeLimit: 500
			olcLimits: {0}dn.exact="$svc" size.soft=${SLAPD_SIZELIMIT:-500} size.hard=${SLAPD_SIZELIMIT:-500} size.pr=${SLAPD_PAGEMAX:-1000} size.prtotal=unlimited
			olcLimits: {1}dn.exact="$sync" size=unlimited
			olcAccess: {0}to attrs=userPassword by anonymous auth by * none
			olcAccess: {1}to * by dn.exact="$svc" read by dn.exact="$sync" read by * none

			dn: olcOverlay={0}syncprov,olcDatabase={$i}mdb,cn=config
			objectClass: olcOverlayConfig
			objectClass: olcSyncProvConfig
			olcOverlay: {0}syncprov
			olcSpCheckpoint: 100 10
			olcSpSessionLog: 10000

		EOF
		i=$((i + 1))
	done
}

write_base() { # tag suffix domain uai name
	local dc=${2%%,*}
	dc=${dc#dc=}
	cat <<-EOF
		dn: $2
		objectClass: top
		objectClass: dcObject
		objectClass: organization
		objectClass: supannOrg
		dc: $dc
		o: $5 ($3)
		supannEtablissement: {UAI}$4

		dn: ou=people,$2
		objectClass: organizationalUnit
		ou: people
		description: Persons of the establishment

		dn: ou=structures,$2
		objectClass: organizationalUnit
		ou: structures
		description: Organisational entities of the establishment

		dn: ou=system,$2
		objectClass: organizationalUnit
		ou: system
		description: Accounts of applications

		dn: cn=dadm,ou=system,$2
		objectClass: organizationalRole
		objectClass: simpleSecurityObject
		cn: dadm
		description: Read-only account of the dadm service
		userPassword: $(hash_pw "${BINDPW[$1]}")

		dn: cn=dadm-sync,ou=system,$2
		objectClass: organizationalRole
		objectClass: simpleSecurityObject
		cn: dadm-sync
		description: Read-only account of the dadm service for content synchronisation
		userPassword: $(hash_pw "${SYNCPW[$1]}")

	EOF
}

write_env() { # dir port
	local dir=$1 port=$2 e tag suffix domain uai name T
	{
		echo "# Written by tests/ldap/slapd.sh; source it with: . $dir/env"
		echo "export SLAPD_DIR='$dir'"
		echo "export LDAP_PORT='$port'"
		echo "export LDAPS_PORT='$((port + 1))'"
		echo "export LDAP_URI='ldap://127.0.0.1:$port'"
		echo "export LDAPS_URI='ldaps://127.0.0.1:$((port + 1))'"
		echo "export LDAPI_URI='$(ldapi_url "$dir")'"
		echo "export LDAP_CA_CERT='$dir/tls/ca.crt'"
		echo "export LDAP_BAD_CA_CERT='$dir/tls/bad-ca.crt'"
		echo "export LDAP_CONFIG_DN='cn=admin,cn=config'"
		echo "export LDAP_CONFIG_PW='$CFGPW'"
		for e in "${ETABS[@]}"; do
			read -r tag suffix domain uai name <<<"$e"
			T=${tag^^}
			echo "export LDAP_${T}_BASE='$suffix'"
			echo "export LDAP_${T}_PEOPLE='ou=people,$suffix'"
			echo "export LDAP_${T}_DOMAIN='$domain'"
			echo "export LDAP_${T}_UAI='$uai'"
			echo "export LDAP_${T}_BIND_DN='cn=dadm,ou=system,$suffix'"
			echo "export LDAP_${T}_BIND_PW='${BINDPW[$tag]}'"
			echo "export LDAP_${T}_SYNC_DN='cn=dadm-sync,ou=system,$suffix'"
			echo "export LDAP_${T}_SYNC_PW='${SYNCPW[$tag]}'"
			echo "export LDAP_${T}_ROOT_DN='cn=admin,$suffix'"
			echo "export LDAP_${T}_ROOT_PW='${ROOTPW[$tag]}'"
		done
		echo "export SLAPD_PID='${3:-}'"
	} >"$dir/env.tmp"
	chmod 600 "$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

# Reads the passwords of an existing instance back from DIR/env.
read_secrets() {
	local dir=$1 e tag
	CFGPW=$(sed -n "s/^export LDAP_CONFIG_PW='\(.*\)'$/\1/p" "$dir/env")
	for e in "${ETABS[@]}"; do
		read -r tag _ <<<"$e"
		BINDPW[$tag]=$(sed -n "s/^export LDAP_${tag^^}_BIND_PW='\(.*\)'$/\1/p" "$dir/env")
		ROOTPW[$tag]=$(sed -n "s/^export LDAP_${tag^^}_ROOT_PW='\(.*\)'$/\1/p" "$dir/env")
		SYNCPW[$tag]=$(sed -n "s/^export LDAP_${tag^^}_SYNC_PW='\(.*\)'$/\1/p" "$dir/env")
	done
}

declare -A BINDPW ROOTPW SYNCPW
CFGPW=

create() { # dir port
	local dir=$1 e tag suffix domain uai name
	mkdir -p "$dir/slapd.d" "$dir/run"
	make_tls "$dir"
	CFGPW=$(openssl rand -hex 12)
	for e in "${ETABS[@]}"; do
		read -r tag _ <<<"$e"
		BINDPW[$tag]=$(openssl rand -hex 12)
		ROOTPW[$tag]=$(openssl rand -hex 12)
		SYNCPW[$tag]=$(openssl rand -hex 12)
		mkdir -p "$dir/db/univ-$tag"
	done
	write_config "$dir" "$CFGPW" >"$dir/config.ldif"
	$SLAPADD -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" -q >/dev/null
	for e in "${ETABS[@]}"; do
		read -r tag suffix domain uai name <<<"$e"
		write_base "$tag" "$suffix" "$domain" "$uai" "$name" >"$dir/base-$tag.ldif"
		$SLAPADD -F "$dir/slapd.d" -b "$suffix" -q -w -l "$dir/base-$tag.ldif" >/dev/null
	done
	write_env "$dir" "$2"
	chmod 700 "$dir"
}

own() {
	[ -n "${SLAPD_USER:-}" ] || return 0
	chown -R "$SLAPD_USER:$(id -gn "$SLAPD_USER")" "$1"
}

cmd_start() {
	[ $# -eq 2 ] || usage
	local dir port=$2 pid urls ldapi i p
	if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1024 ] || [ "$port" -ge 65535 ]; then
		die "PORT must be a number between 1024 and 65534"
	fi
	if [ -d "$1" ] && pid=$(pid_of "$1"); then
		die "already running in $1 (pid $pid)"
	fi
	for p in "$port" $((port + 1)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			die "port $p of 127.0.0.1 is already in use"
		fi
	done
	dir=$(abspath "$1")
	if [ -d "$dir/slapd.d/cn=config" ]; then
		read_secrets "$dir"
	else
		create "$dir" "$port"
	fi
	rm -f "$dir/run/slapd.pid" "$dir/run/ldapi"
	own "$dir"
	urls="ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$((port + 1))/"
	ldapi=$(ldapi_url "$dir")
	[ -z "$ldapi" ] || urls="$urls $ldapi/"
	local user_opts=()
	[ -z "${SLAPD_USER:-}" ] || user_opts=(-u "$SLAPD_USER" -g "$(id -gn "$SLAPD_USER")")
	# -d keeps slapd in the foreground so its log can go to a file; setsid
	# detaches it from the caller's session and terminal.
	setsid "$SLAPD" -d "${SLAPD_DEBUG:-stats}" -F "$dir/slapd.d" -h "$urls" \
		"${user_opts[@]}" >>"$dir/slapd.log" 2>&1 </dev/null &
	local child=$!
	# Ready when our slapd has written its PID file (it does so once its
	# listeners are open) and answers on the plain port.
	for i in $(seq 1 200); do
		if [ "$(cat "$dir/run/slapd.pid" 2>/dev/null)" = "$child" ] &&
			ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base -LLL 1.1 \
				>/dev/null 2>&1; then
			pid=$child
			write_env "$dir" "$port" "$pid"
			echo "slapd running in $dir (pid $pid), ldap://127.0.0.1:$port ldaps://127.0.0.1:$((port + 1))"
			return 0
		fi
		if ! alive "$child"; then
			tail -n 20 "$dir/slapd.log" >&2
			die "slapd exited during start-up, see $dir/slapd.log"
		fi
		sleep 0.05
	done
	kill "$child" 2>/dev/null || true
	die "slapd did not answer within 10 s, see $dir/slapd.log"
}

cmd_stop() {
	[ $# -eq 1 ] || usage
	local dir=$1 pid i
	[ -d "$dir" ] || die "no instance in $dir"
	if ! pid=$(pid_of "$dir"); then
		rm -f "$dir/run/slapd.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 600); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		echo "slapd.sh: pid $pid still alive after 30 s, sending KILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$dir/run/slapd.pid" "$dir/run/ldapi"
	sed -i "s/^export SLAPD_PID=.*/export SLAPD_PID=''/" "$dir/env"
}

cmd_load() {
	[ $# -eq 3 ] || usage
	local dir=$1 suffix=$2 file=$3 e tag sfx rootdn='' rootpw=''
	[ -f "$dir/env" ] || die "no instance in $dir (run start first)"
	[ "$file" = - ] && file=/dev/stdin
	read_secrets "$dir"
	for e in "${ETABS[@]}"; do
		read -r tag sfx _ <<<"$e"
		if [ "${sfx,,}" = "${suffix,,}" ]; then
			rootdn="cn=admin,$sfx"
			rootpw=${ROOTPW[$tag]}
		fi
	done
	[ -n "$rootdn" ] || die "unknown suffix $suffix"
	if pid_of "$dir" >/dev/null; then
		local uri
		uri=$(sed -n "s/^export LDAP_URI='\(.*\)'$/\1/p" "$dir/env")
		ldapadd -x -H "$uri" -D "$rootdn" -y <(printf '%s' "$rootpw") -f "$file" >/dev/null
	else
		$SLAPADD -F "$dir/slapd.d" -b "$suffix" -q -w -l "$file"
		own "$dir"
	fi
}

cmd_status() {
	[ $# -eq 1 ] || usage
	local pid
	if pid=$(pid_of "$1"); then
		echo "running (pid $pid)"
	else
		echo "stopped"
		return 1
	fi
}

cmd_destroy() {
	[ $# -eq 1 ] || usage
	[ -d "$1" ] || return 0
	[ -d "$1/slapd.d" ] || die "$1 does not look like an instance, not removing it"
	cmd_stop "$1"
	rm -rf "$1"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
load) cmd_load "$@" ;;
status) cmd_status "$@" ;;
destroy) cmd_destroy "$@" ;;
*) usage ;;
esac
