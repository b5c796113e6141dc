#!/usr/bin/env bash
# Installs, from Debian's packages, the programs sessionkit's tests run,
# when they are missing. Tests start their own servers on free ports; they
# never use a server already running on the machine.
set -euo pipefail

need=()
want() { # want COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || need+=("$2")
}

want redis-server redis-server
want redis-sentinel redis-sentinel
want /usr/sbin/nginx nginx
want wrk wrk
want chromium chromium
want certutil libnss3-tools
want fc-list fonts-dejavu-core
want nft nftables
# PostgreSQL's server binaries live outside PATH on Debian.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)

if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	# Debian starts some services on install; the tests start their own.
	for svc in nginx; do
		[ -f "/run/$svc.pid" ] && $SUDO kill "$(cat "/run/$svc.pid")" 2>/dev/null || true
	done
fi
echo "test dependencies present"
