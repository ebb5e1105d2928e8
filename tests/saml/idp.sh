#!/bin/bash
# Test SAML 2.0 IdP (SimpleSAMLphp 1.19, Debian package "simplesamlphp") for
# the dadm SP, one instance per establishment, served by "php -S" on 127.0.0.1.
#
#   idp.sh start DIR NAME PORT SP_PORT SP_CERT_PEM
#       DIR          run directory (created; config, keys, logs, sessions, env)
#       NAME         a  -> establishment UAI 0673021V, domain univ-a.test
#                    b  -> establishment UAI 0860856N, domain univ-b.test
#       PORT         port of the IdP on 127.0.0.1
#       SP_PORT      port of the dadm SP on 127.0.0.1: the IdP knows the SP as
#                    entityID http://127.0.0.1:SP_PORT/saml/metadata,
#                    ACS (HTTP-POST) http://127.0.0.1:SP_PORT/saml/acs,
#                    SLO (HTTP-Redirect) http://127.0.0.1:SP_PORT/saml/slo
#       SP_CERT_PEM  PEM certificate the SP signs its requests with; "none"
#                    for an SP that does not sign (then the IdP accepts
#                    unsigned AuthnRequests and LogoutRequests)
#     Environment (optional):
#       SP_METADATA  file or http URL of the SP's own metadata, used instead of
#                    the generated one (SP_PORT then only names the trusted
#                    redirect host; SP_CERT_PEM "none" still lifts the
#                    signature requirement)
#       IDP_DEBUG=1  SimpleSAMLphp debug logging (DIR/log/simplesamlphp.log)
#     Writes DIR/env (shell syntax, see README.md), DIR/idp-metadata.xml.
#
#   idp.sh stop DIR      stop the instance started in DIR (by its PID)
#   idp.sh status DIR    exit 0 if it runs
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/idp
SSP_WWW=${SIMPLESAMLPHP_WWW:-/usr/share/simplesamlphp/www}
PHP=${PHP:-php}

die() { echo "idp.sh: $*" >&2; exit 1; }

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

# PID of the php -S of DIR if it still runs (checked against its command line,
# so a recycled PID is never taken for ours).
live_pid() {
	local dir=$1 pid port
	[ -f "$dir/pid" ] || return 1
	read -r pid port <"$dir/pid" || return 1
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-S 127.0.0.1:$port " || return 1
	echo "$pid"
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

q() { # single-quote a value for a shell-sourced file
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

cmd_start() {
	[ $# -eq 5 ] || usage
	local dir=$1 name=$2 port=$3 sp_port=$4 sp_cert=$5
	local uai other_uai domain org
	case $name in
	a) uai=0673021V other_uai=0860856N domain=univ-a.test org="Université A (test)" ;;
	b) uai=0860856N other_uai=0673021V domain=univ-b.test org="Université B (test)" ;;
	*) die "NAME must be a or b, not '$name'" ;;
	esac
	if ! [[ $port =~ ^[0-9]{1,5}$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
		die "bad PORT '$port'"
	fi
	if ! [[ $sp_port =~ ^[0-9]{1,5}$ ]] || [ "$sp_port" -lt 1 ] || [ "$sp_port" -gt 65535 ]; then
		die "bad SP_PORT '$sp_port'"
	fi
	[ "$sp_cert" = none ] || [ -r "$sp_cert" ] || die "SP certificate '$sp_cert' not readable"
	[ -d "$SSP_WWW" ] || die "$SSP_WWW missing (apt-get install simplesamlphp php-cli php-xml php-mbstring)"
	command -v "$PHP" >/dev/null || die "php not found"
	command -v openssl >/dev/null || die "openssl not found"
	command -v curl >/dev/null || die "curl not found"

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if pid=$(live_pid "$dir"); then
		die "an IdP already runs from $dir (PID $pid)"
	fi
	port_busy "$port" && die "port $port on 127.0.0.1 is already in use"

	rm -rf "$dir/config" "$dir/cert" "$dir/data" "$dir/log" "$dir/sessions" "$dir/tmp" \
		"$dir/env" "$dir/pid" "$dir/idp-metadata.xml" "$dir/users.tsv" "$dir/sp-metadata.xml"
	mkdir -p "$dir/config/metadata" "$dir/cert" "$dir/data" "$dir/log" "$dir/sessions" "$dir/tmp"

	local base=http://127.0.0.1:$port
	local sp_base=http://127.0.0.1:$sp_port
	local entity_id=https://idp.$domain/idp/shibboleth

	# Signing key pair of this run (test only, never committed).
	openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 \
		-subj "/O=dadm tests/CN=idp.$domain" \
		-keyout "$dir/cert/idp.key" -out "$dir/cert/idp.crt" 2>"$dir/log/openssl.log" ||
		die "openssl failed: $(cat "$dir/log/openssl.log")"
	chmod 600 "$dir/cert/idp.key"

	# The SP as this IdP knows it.
	local sp_source sp_md_file="" signed=true
	[ "$sp_cert" = none ] && signed=false
	if [ -n "${SP_METADATA:-}" ]; then
		case $SP_METADATA in
		http://* | https://*) sp_source=$(printf '[{"type":"xml","url":%s}]' "$(json_str "$SP_METADATA")") ;;
		*)
			[ -r "$SP_METADATA" ] || die "SP_METADATA '$SP_METADATA' not readable"
			sp_md_file=$(cd "$(dirname "$SP_METADATA")" && pwd)/$(basename "$SP_METADATA")
			sp_source=$(printf '[{"type":"xml","file":%s}]' "$(json_str "$sp_md_file")")
			;;
		esac
	else
		local cert_b64=""
		if [ "$sp_cert" != none ]; then
			cert_b64=$(openssl x509 -in "$sp_cert" -outform DER 2>/dev/null | base64 -w0) ||
				die "'$sp_cert' is not a PEM certificate"
			[ -n "$cert_b64" ] || die "'$sp_cert' is not a PEM certificate"
		fi
		sp_md_file=$dir/sp-metadata.xml
		sed -e "s|@SP_BASE@|$sp_base|g" -e "s|@SP_CERT@|$cert_b64|g" -e "s|@SIGNED@|$signed|g" \
			"$TEMPLATES/sp-metadata.xml.in" >"$sp_md_file"
		if [ "$sp_cert" = none ]; then
			sed -i '/<md:KeyDescriptor/,/<\/md:KeyDescriptor>/d' "$sp_md_file"
		fi
		sp_source=$(printf '[{"type":"xml","file":%s}]' "$(json_str "$sp_md_file")")
	fi

	# Per-instance values read by the PHP configuration files.
	local salt admin_pw
	salt=$(openssl rand -hex 24)
	admin_pw=$(openssl rand -hex 12)
	cat >"$dir/config/instance.json" <<-EOF
	{
	  "name": $(json_str "$name"),
	  "uai": $(json_str "$uai"),
	  "domain": $(json_str "$domain"),
	  "org_name": $(json_str "$org"),
	  "entity_id": $(json_str "$entity_id"),
	  "base_url": $(json_str "$base"),
	  "run_dir": $(json_str "$dir"),
	  "secret_salt": $(json_str "$salt"),
	  "admin_password": $(json_str "$admin_pw"),
	  "trusted_hosts": [$(json_str "127.0.0.1:$port"), $(json_str "127.0.0.1:$sp_port"), $(json_str "localhost:$sp_port")],
	  "require_signed_requests": $signed,
	  "debug": $([ "${IDP_DEBUG:-0}" = 1 ] && echo true || echo false),
	  "sp_metadata_sources": $sp_source
	}
	EOF
	cp "$TEMPLATES/config.php" "$TEMPLATES/authsources.php" "$dir/config/"
	cp "$TEMPLATES/saml20-idp-hosted.php" "$dir/config/metadata/"
	sed -e "s/@NAME@/$name/g" -e "s/@DOMAIN@/$domain/g" -e "s/@UAI@/$uai/g" -e "s/@OTHER_UAI@/$other_uai/g" \
		"$TEMPLATES/users.tsv.in" >"$dir/users.tsv"
	# shellcheck disable=SC2016 # PHP code, not shell
	"$PHP" -r 'exit(is_array(json_decode(file_get_contents($argv[1]), true)) ? 0 : 1);' \
		"$dir/config/instance.json" || die "generated instance.json is not valid JSON"

	# Serve. The subshell execs php, so $! is php's PID.
	(
		cd "$dir"
		exec env SIMPLESAMLPHP_CONFIG_DIR="$dir/config" "$PHP" \
			-d display_errors=0 -d log_errors=1 -d error_log="$dir/log/php-errors.log" \
			-d session.save_path="$dir/sessions" -d expose_php=0 \
			-S "127.0.0.1:$port" -t "$SSP_WWW"
	) </dev/null >"$dir/log/php-server.log" 2>&1 &
	local pid=$!
	echo "$pid $port" >"$dir/pid"

	local md_url=$base/saml2/idp/metadata.php
	for _ in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$dir/pid"
			die "php -S exited: $(tail -n 20 "$dir/log/php-server.log")"
		fi
		if curl -fsS --max-time 5 -o "$dir/idp-metadata.xml" "$md_url" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	if ! grep -q "entityID=\"$entity_id\"" "$dir/idp-metadata.xml" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		rm -f "$dir/pid"
		die "IdP metadata did not answer at $md_url: $(tail -n 20 "$dir/log/php-server.log"; tail -n 20 "$dir/log/simplesamlphp.log" 2>/dev/null)"
	fi

	# DIR/env: everything a test needs, shell syntax (KEY='value').
	{
		echo "# dadm test IdP $name ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
		echo "IDP_NAME=$(q "$name")"
		echo "IDP_UAI=$(q "$uai")"
		echo "IDP_OTHER_UAI=$(q "$other_uai")"
		echo "IDP_DOMAIN=$(q "$domain")"
		echo "IDP_ENTITY_ID=$(q "$entity_id")"
		echo "IDP_URL=$(q "$base")"
		echo "IDP_PORT=$(q "$port")"
		echo "IDP_PID=$(q "$pid")"
		echo "IDP_RUN_DIR=$(q "$dir")"
		echo "IDP_METADATA_URL=$(q "$md_url")"
		echo "IDP_METADATA_FILE=$(q "$dir/idp-metadata.xml")"
		echo "IDP_SSO_URL=$(q "$base/saml2/idp/SSOService.php")"
		echo "IDP_SLO_URL=$(q "$base/saml2/idp/SingleLogoutService.php")"
		echo "IDP_INIT_SLO_URL=$(q "$base/saml2/idp/SingleLogoutService.php?ReturnTo=")"
		echo "IDP_CERT_FILE=$(q "$dir/cert/idp.crt")"
		echo "IDP_KEY_FILE=$(q "$dir/cert/idp.key")"
		echo "IDP_LOG_DIR=$(q "$dir/log")"
		echo "IDP_SP_ENTITY_ID=$(q "$sp_base/saml/metadata")"
		echo "IDP_SP_ACS_URL=$(q "$sp_base/saml/acs")"
		echo "IDP_SP_SLO_URL=$(q "$sp_base/saml/slo")"
		echo "IDP_SP_METADATA=$(q "${sp_md_file:-${SP_METADATA:-}}")"
		echo "IDP_USERS_FILE=$(q "$dir/users.tsv")"
		local logins="" login pw role eppn mail _dn supann up
		while IFS=$'\t' read -r login pw role eppn mail _dn supann; do
			case $login in '#'* | '') continue ;; esac
			logins="$logins${logins:+ }$login"
			up=$(printf '%s' "$role" | tr '[:lower:]' '[:upper:]')
			[ "$eppn" = - ] && eppn=""
			[ "$supann" = - ] && supann=""
			echo "IDP_USER_$up=$(q "$login")"
			echo "IDP_PASSWORD_$up=$(q "$pw")"
			echo "IDP_EPPN_$up=$(q "$eppn")"
			echo "IDP_MAIL_$up=$(q "$mail")"
			echo "IDP_SUPANN_$up=$(q "$supann")"
		done <"$dir/users.tsv"
		echo "IDP_USERS=$(q "$logins")"
	} >"$dir/env"
	echo "idp.sh: IdP $name ($entity_id) up at $base, PID $pid; see $dir/env"
}

json_str() { # JSON string literal
	# shellcheck disable=SC2016 # PHP code, not shell
	"$PHP" -r 'echo json_encode($argv[1], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);' -- "$1"
}

cmd_stop() {
	[ $# -eq 1 ] || usage
	local dir=$1 pid
	if ! pid=$(live_pid "$dir"); then
		rm -f "$dir/pid"
		echo "idp.sh: no IdP running from $dir"
		return 0
	fi
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid"
	echo "idp.sh: stopped IdP of $dir (PID $pid)"
}

cmd_status() {
	[ $# -eq 1 ] || usage
	local pid
	if pid=$(live_pid "$1"); then
		echo "idp.sh: running, PID $pid"
	else
		echo "idp.sh: not running"
		return 1
	fi
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
