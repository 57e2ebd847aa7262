# shellcheck shell=bash disable=SC2034  # the settings are used by the scripts that source this
# Shared settings and helpers for the reprobox host scripts (sourced, not run).
#
# The paths here are the contract with tests/integration and the reprobox CLI:
# the host engine on /var/run/docker.sock, the loopback registry on
# 127.0.0.1:5000 and the second engine ("another machine") on its own socket.

readonly DOCKER_CLI=/usr/bin/docker
readonly DOCKERD=/usr/sbin/dockerd

readonly ENGINE_HOST=unix:///var/run/docker.sock
readonly ENGINE_PIDFILE=/var/run/docker.pid
readonly ENGINE_LOG=/var/log/reprobox-dockerd.log

readonly BASE_IMAGE=reprobox-base:bookworm-py3.11
readonly BASE_SUITE=bookworm
readonly BASE_PYTHON=3.11

readonly REPROBOX_ETC=/etc/reprobox
readonly REGISTRY_ADDR=127.0.0.1:5000
readonly REGISTRY_CONFIG=$REPROBOX_ETC/registry.yml
readonly REGISTRY_ROOT=/var/lib/reprobox-registry
readonly REGISTRY_PIDFILE=/run/reprobox-registry.pid
readonly REGISTRY_LOG=/var/log/reprobox-registry.log

readonly ENGINE2_NETNS=reprobox2
readonly ENGINE2_RUN=/run/reprobox-engine2
readonly ENGINE2_SOCKET=$ENGINE2_RUN/docker.sock
readonly ENGINE2_HOST=unix://$ENGINE2_SOCKET
readonly ENGINE2_DATA_ROOT=/var/lib/reprobox-engine2
readonly ENGINE2_EXEC_ROOT=$ENGINE2_RUN/exec
readonly ENGINE2_PIDFILE=$ENGINE2_RUN/dockerd.pid
readonly ENGINE2_CONFIG=$REPROBOX_ETC/engine2-daemon.json
readonly ENGINE2_LOG=/var/log/reprobox-engine2-dockerd.log
readonly ENGINE2_REGISTRY_SOCKET=$ENGINE2_RUN/registry.sock

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

die() {
	log "error: $*"
	exit 1
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "run as root (it starts daemons and writes under /var/lib)"
}

# Run the docker CLI against one engine; DOCKER_* from the caller must not redirect it.
docker_at() {
	local host=$1
	shift
	env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH \
		"$DOCKER_CLI" -H "$host" "$@"
}

engine_answers() {
	timeout 15 env -u DOCKER_HOST -u DOCKER_CONTEXT \
		"$DOCKER_CLI" -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

registry_answers() {
	curl -fsS --noproxy '*' --max-time 5 -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null
}

# Print the pid in a pid file when that process is alive and runs the named program.
live_pid() {
	local pidfile=$1 program=$2 pid
	[[ -r $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$program" ]] || return 1
	echo "$pid"
}

# Start a command in its own session, detached from our stdio, and record its pid.
# The command must exec into the daemon (setsid, ip netns exec and unshare do), so
# that $! is the daemon's own pid.
start_detached() {
	local pidfile=$1 logfile=$2
	shift 2
	printf '\n=== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logfile"
	setsid "$@" >>"$logfile" 2>&1 </dev/null &
	[[ $pidfile == - ]] || echo "$!" >"$pidfile"
	STARTED_PID=$!
}

# Stop one process by pid: TERM, wait up to a limit, then KILL.
stop_pid() {
	local pid=$1 name=$2 limit=${3:-20} waited=0
	kill -0 "$pid" 2>/dev/null || return 0
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && ((waited < limit * 10)); do
		sleep 0.1
		waited=$((waited + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored TERM for ${limit}s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

# Poll a check until it succeeds; fail early when the watched pid exits.
wait_until() {
	local limit=$1 pid=$2
	shift 2
	local deadline=$((SECONDS + limit))
	until "$@"; do
		if [[ $pid != - ]] && ! kill -0 "$pid" 2>/dev/null; then
			return 2
		fi
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

log_tail() {
	local logfile=$1
	log "last lines of $logfile:"
	tail -n 25 "$logfile" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# Write a file only when its content changes, so reruns touch nothing.
write_if_changed() {
	local path=$1 content=$2
	if [[ -f $path ]] && [[ $(<"$path") == "$content" ]]; then
		return 1
	fi
	mkdir -p "$(dirname "$path")"
	printf '%s\n' "$content" >"$path.tmp"
	mv "$path.tmp" "$path"
}
