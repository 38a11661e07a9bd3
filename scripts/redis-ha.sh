#!/usr/bin/env bash
# redis-ha.sh start|stop|status: the Redis topologies the tests run on
# beside standalone Redis, on loopback, with Debian's redis-server:
#
#   Cluster   three masters on 127.0.0.1:7000-7002, no replicas
#             (IDP_TEST_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002)
#   Sentinel  primary 127.0.0.1:6380, replica 127.0.0.1:6381, Sentinels on
#             127.0.0.1:26379-26381 watching master "idpmaster" with quorum 2
#             (IDP_TEST_REDIS_SENTINEL_URL=redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/idpmaster/0)
#
# Every server keeps nothing on disk (--save "" --appendonly no); their
# configuration, pid and log files live in REDIS_HA_DIR (default
# ${TMPDIR:-/tmp}/idp-redis-ha-<uid>). The ports can be moved with
# REDIS_HA_CLUSTER_PORTS, REDIS_HA_PRIMARY_PORT, REDIS_HA_REPLICA_PORT and
# REDIS_HA_SENTINEL_PORTS.
#
# start is idempotent: a topology that already answers as it should is left
# alone (after a Sentinel failover the primary may be either server); one
# that answers only in part is stopped (only the servers this script
# started, by their pid files) and started afresh. It installs redis-server
# with apt-get when absent. stop stops what start started. status prints
# the state of both and exits non-zero unless both are healthy. Waits at
# most REDIS_HA_WAIT_SECONDS (default 30) for a topology to settle.
set -euo pipefail

readonly HOST=127.0.0.1
readonly DIR="${REDIS_HA_DIR:-${TMPDIR:-/tmp}/idp-redis-ha-$(id -u)}"
read -r -a CLUSTER_PORTS <<<"${REDIS_HA_CLUSTER_PORTS:-7000 7001 7002}"
readonly PRIMARY_PORT="${REDIS_HA_PRIMARY_PORT:-6380}"
readonly REPLICA_PORT="${REDIS_HA_REPLICA_PORT:-6381}"
read -r -a SENTINEL_PORTS <<<"${REDIS_HA_SENTINEL_PORTS:-26379 26380 26381}"
readonly MASTER_NAME=idpmaster
readonly QUORUM=2
readonly WAIT_SECONDS="${REDIS_HA_WAIT_SECONDS:-30}"

say() { echo "redis-ha.sh: $*" >&2; }
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

ensure_installed() {
	command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
	command -v apt-get >/dev/null 2>&1 || die "redis-server missing and apt-get not available: install it by hand"
	say "installing redis-server with apt-get"
	local out
	out="$(mktemp)"
	as_root apt-get update >"$out" 2>&1 || { cat "$out" >&2; rm -f "$out"; die "apt-get update failed"; }
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >"$out" 2>&1 ||
		{ cat "$out" >&2; rm -f "$out"; die "apt-get install redis-server failed"; }
	rm -f "$out"
}

cli() { local port="$1"; shift; redis-cli -h "$HOST" -p "$port" "$@" 2>/dev/null; }
pings() { [ "$(cli "$1" ping)" = PONG ]; }
# info_field prints one field of INFO's section on the server at port.
info_field() { cli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# wait_for polls a check until it passes or WAIT_SECONDS elapse.
wait_for() {
	local what="$1" deadline=$((SECONDS + WAIT_SECONDS))
	shift
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.2
	done
}

# --- Cluster ---------------------------------------------------------------

cluster_healthy() {
	local p
	for p in "${CLUSTER_PORTS[@]}"; do
		[ "$(cli "$p" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ] || return 1
		[ "$(cli "$p" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = "${#CLUSTER_PORTS[@]}" ] || return 1
	done
}

start_cluster() {
	local p addrs=()
	for p in "${CLUSTER_PORTS[@]}"; do
		pings "$p" && die "port $p answers but is not this script's healthy Cluster: stop that server first"
		rm -f "$DIR/cluster-$p.conf"
		redis-server --daemonize yes --bind "$HOST" --port "$p" --save "" --appendonly no \
			--cluster-enabled yes --cluster-config-file "$DIR/cluster-$p.conf" --cluster-node-timeout 5000 \
			--dir "$DIR" --pidfile "$DIR/redis-$p.pid" --logfile "$DIR/redis-$p.log" >/dev/null 9>&-
		addrs+=("$HOST:$p")
	done
	for p in "${CLUSTER_PORTS[@]}"; do
		wait_for "Redis on $p" pings "$p" || die "Redis on port $p did not start: see $DIR/redis-$p.log"
	done
	local out
	out="$(redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes 2>&1)" ||
		{ echo "$out" >&2; die "redis-cli --cluster create failed"; }
	wait_for "the Cluster" cluster_healthy || die "the Cluster on ports ${CLUSTER_PORTS[*]} is not ok after ${WAIT_SECONDS}s"
}

# --- Sentinel --------------------------------------------------------------

# sentinel_master prints the primary's port as the Sentinel at port knows it.
sentinel_master() {
	cli "$1" sentinel get-master-addr-by-name "$MASTER_NAME" | sed -n 2p | tr -d '\r'
}

sentinel_healthy() {
	local p master="" m
	for p in "${SENTINEL_PORTS[@]}"; do
		m="$(sentinel_master "$p")"
		[ -n "$m" ] || return 1
		[ -z "$master" ] || [ "$m" = "$master" ] || return 1
		master="$m"
	done
	[ "$master" = "$PRIMARY_PORT" ] || [ "$master" = "$REPLICA_PORT" ] || return 1
	local replica="$PRIMARY_PORT"
	[ "$master" = "$PRIMARY_PORT" ] && replica="$REPLICA_PORT"
	[ "$(info_field "$master" replication role)" = master ] || return 1
	[ "$(info_field "$replica" replication role)" = slave ] || return 1
	[ "$(info_field "$replica" replication master_port)" = "$master" ] || return 1
	[ "$(info_field "$replica" replication master_link_status)" = up ] || return 1
}

start_sentinel() {
	local p
	for p in "$PRIMARY_PORT" "$REPLICA_PORT" "${SENTINEL_PORTS[@]}"; do
		pings "$p" && die "port $p answers but is not this script's healthy Sentinel setup: stop that server first"
	done
	redis-server --daemonize yes --bind "$HOST" --port "$PRIMARY_PORT" --save "" --appendonly no \
		--dir "$DIR" --pidfile "$DIR/redis-$PRIMARY_PORT.pid" --logfile "$DIR/redis-$PRIMARY_PORT.log" >/dev/null 9>&-
	redis-server --daemonize yes --bind "$HOST" --port "$REPLICA_PORT" --save "" --appendonly no \
		--replicaof "$HOST" "$PRIMARY_PORT" \
		--dir "$DIR" --pidfile "$DIR/redis-$REPLICA_PORT.pid" --logfile "$DIR/redis-$REPLICA_PORT.log" >/dev/null 9>&-
	for p in "$PRIMARY_PORT" "$REPLICA_PORT"; do
		wait_for "Redis on $p" pings "$p" || die "Redis on port $p did not start: see $DIR/redis-$p.log"
	done
	for p in "${SENTINEL_PORTS[@]}"; do
		# A Sentinel rewrites its configuration file: a fresh one each start.
		cat >"$DIR/sentinel-$p.conf" <<-EOF
			bind $HOST
			port $p
			daemonize yes
			dir $DIR
			pidfile $DIR/sentinel-$p.pid
			logfile $DIR/sentinel-$p.log
			sentinel monitor $MASTER_NAME $HOST $PRIMARY_PORT $QUORUM
			sentinel down-after-milliseconds $MASTER_NAME 5000
			sentinel failover-timeout $MASTER_NAME 15000
			sentinel parallel-syncs $MASTER_NAME 1
		EOF
		redis-server "$DIR/sentinel-$p.conf" --sentinel >/dev/null 9>&-
	done
	wait_for "Sentinel" sentinel_healthy ||
		die "the Sentinel setup (ports $PRIMARY_PORT $REPLICA_PORT ${SENTINEL_PORTS[*]}) is not healthy after ${WAIT_SECONDS}s: see $DIR/*.log"
}

# --- Stopping ----------------------------------------------------------------

# stop_pidfile stops the process of a pid file that this script wrote, if it
# still runs a redis-server, and waits for it to end.
stop_pidfile() {
	local f="$1" pid
	[ -f "$f" ] || return 0
	pid="$(cat "$f" 2>/dev/null || true)"
	rm -f "$f"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	# The pid may have been reused since: only a redis-server is stopped.
	grep -q redis "/proc/$pid/comm" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || return 0
	local i
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop_cluster() {
	local p
	for p in "${CLUSTER_PORTS[@]}"; do
		stop_pidfile "$DIR/redis-$p.pid"
		rm -f "$DIR/cluster-$p.conf"
	done
}

stop_sentinel() {
	local p
	for p in "${SENTINEL_PORTS[@]}"; do stop_pidfile "$DIR/sentinel-$p.pid"; done
	for p in "$PRIMARY_PORT" "$REPLICA_PORT"; do stop_pidfile "$DIR/redis-$p.pid"; done
}

# --- Commands ----------------------------------------------------------------

cmd_start() {
	ensure_installed
	mkdir -p "$DIR"
	# One start at a time (make test in two worktrees at once). The servers
	# are started with fd 9 closed, or they would hold the lock for good.
	exec 9>"$DIR/lock"
	flock -w 120 9 || die "another redis-ha.sh start holds $DIR/lock"
	if ! cluster_healthy; then
		stop_cluster
		start_cluster
		say "Redis Cluster started on $HOST ports ${CLUSTER_PORTS[*]} ($DIR)"
	fi
	if ! sentinel_healthy; then
		stop_sentinel
		start_sentinel
		say "Redis Sentinel started: primary $HOST:$PRIMARY_PORT, replica $HOST:$REPLICA_PORT, Sentinels ${SENTINEL_PORTS[*]} ($DIR)"
	fi
}

cmd_stop() {
	stop_cluster
	stop_sentinel
}

cmd_status() {
	local rc=0
	if cluster_healthy; then
		echo "cluster: ok ($HOST ports ${CLUSTER_PORTS[*]})"
	else
		echo "cluster: down or unhealthy ($HOST ports ${CLUSTER_PORTS[*]})"
		rc=1
	fi
	if sentinel_healthy; then
		echo "sentinel: ok (master $MASTER_NAME at $HOST:$(sentinel_master "${SENTINEL_PORTS[0]}"), Sentinels ${SENTINEL_PORTS[*]})"
	else
		echo "sentinel: down or unhealthy (ports $PRIMARY_PORT $REPLICA_PORT, Sentinels ${SENTINEL_PORTS[*]})"
		rc=1
	fi
	return "$rc"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
