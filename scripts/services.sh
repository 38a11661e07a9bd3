#!/usr/bin/env bash
# services.sh: make sure PostgreSQL answers on 127.0.0.1:5432 and Redis on
# 127.0.0.1:6379, as the tests expect (user postgres with trust auth,
# database "test"), and that the Redis Cluster and Sentinel setup of
# scripts/redis-ha.sh run beside them (see that script for their ports).
#
# Starts them when they are installed but stopped; installs them with
# apt-get when absent (then allows trust auth from 127.0.0.1 and ::1 for the
# fresh cluster); creates database "test" when missing; waits until both
# answer, at most SERVICES_WAIT_SECONDS (default 30). Idempotent, silent
# when all is well; exits non-zero with a message when a service never
# answers.
set -euo pipefail

readonly HOST=127.0.0.1
readonly PG_PORT=5432
readonly REDIS_PORT=6379
readonly WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-30}"

say() { echo "services.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# as_root runs a command as root, through sudo when needed.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

apt_updated=0
# apt_install installs Debian packages quietly; on failure it shows apt's output.
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get not available: install it by hand"
	local out
	out="$(mktemp)"
	say "installing $* with apt-get"
	if [ "$apt_updated" -eq 0 ]; then
		as_root apt-get update >"$out" 2>&1 || { cat "$out" >&2; rm -f "$out"; die "apt-get update failed"; }
		apt_updated=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >"$out" 2>&1 ||
		{ cat "$out" >&2; rm -f "$out"; die "apt-get install $* failed"; }
	rm -f "$out"
}

pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PG_PORT"; }
redis_up() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

# wait_for polls a check until it passes or WAIT_SECONDS elapse.
wait_for() {
	local name="$1" check="$2" deadline=$((SECONDS + WAIT_SECONDS))
	until "$check"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "$name does not answer on $HOST after ${WAIT_SECONDS}s"
		fi
		sleep 0.5
	done
}

# pg_version prints the newest configured PostgreSQL cluster version.
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# allow_trust lets user postgres in from loopback without a password; used
# only on a cluster this script installed, never on an existing one.
allow_trust() {
	local hba="/etc/postgresql/$1/main/pg_hba.conf" tmp
	[ -f "$hba" ] || die "no $hba"
	grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" && return 0
	tmp="$(mktemp)"
	{
		echo "# Added by scripts/services.sh: trust loopback for tests."
		echo "host all all 127.0.0.1/32 trust"
		echo "host all all ::1/128 trust"
		cat "$hba"
	} >"$tmp"
	as_root cp "$tmp" "$hba"
	rm -f "$tmp"
}

ensure_postgres() {
	local fresh=0 version
	if pg_up; then
		ensure_test_db
		return 0
	fi
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_version)" ]; then
		apt_install postgresql
		fresh=1
	fi
	version="$(pg_version)"
	[ -n "$version" ] || die "PostgreSQL installed but no cluster in /etc/postgresql"
	if [ "$fresh" -eq 1 ]; then
		allow_trust "$version"
	fi
	# "start" fails when the cluster already runs (the package may start it):
	# then a reload picks up the new pg_hba.conf.
	if ! as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1; then
		as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
	fi
	wait_for PostgreSQL pg_up
	ensure_test_db
}

ensure_test_db() {
	local psql=(psql -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
	local exists
	exists="$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>&1)" ||
		die "cannot connect as postgres to $HOST:$PG_PORT (is trust auth set for 127.0.0.1 in pg_hba.conf?): $exists"
	if [ "$exists" != 1 ]; then
		"${psql[@]}" -c "CREATE DATABASE test" >/dev/null || die "cannot create database test"
	fi
}

ensure_redis() {
	if redis_up; then
		return 0
	fi
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
		apt_install redis-server
		# The package may have started a server: use it if it answers.
		redis_up && return 0
	fi
	redis-server --daemonize yes --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
	wait_for Redis redis_up
}

ensure_postgres
ensure_redis
"$(dirname "${BASH_SOURCE[0]}")/redis-ha.sh" start
