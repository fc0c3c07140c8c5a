#!/usr/bin/env bash
# The container test bed of the docker tool group (tests/_support/containers.ts).
#
#   .ci/testbed_containers.sh [install] [start] [status] [stop]    (no argument: install start)
#
# install: Debian packages (rootful Podman with runc, netavark, iptables, busybox-static,
#          podman-compose and docker-compose v1); the Docker 28 CLI is used when present.
# start:   engine configuration in $BED (never /etc/containers): vfs storage, runc, cgroupfs,
#          file events, k8s-file logs, no network namespace by default; the image
#          localhost/busybox:latest imported from a busybox-static rootfs (no registry is
#          reachable); `podman system service` on $BED/podman.sock, group-owned by the
#          test users so the SSH logins reach it. Idempotent and safe to run concurrently
#          (flock). Prints the bed's facts as KEY=VALUE lines.
# status:  exit 0 when the service answers, else 1.
# stop:    stops the service, removes containers/pods, undoes what the engine added
#          (NETAVARK iptables chains, /run/netns mounts) and removes $BED.
#
# Needs root. Safe on a fresh Debian 12 machine.
set -euo pipefail

BED=${SSHMCP_CONTAINER_BED:-/var/lib/sshmcp-test/containers}
SOCK="$BED/podman.sock"
CONF="$BED/containers.conf"
STORAGE="$BED/storage.conf"
REGISTRIES="$BED/registries.conf"
IMAGE=localhost/busybox:latest
PACKAGES=(podman runc netavark iptables busybox-static podman-compose docker-compose)

log() { echo "testbed_containers: $*" >&2; }

engine_env() {
  export CONTAINERS_CONF="$CONF" CONTAINERS_STORAGE_CONF="$STORAGE" \
    CONTAINERS_REGISTRIES_CONF="$REGISTRIES"
}

do_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

answers() { # the service answers its ping
  [ -S "$SOCK" ] || return 1
  curl -sf --max-time 3 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && return 0
  # no curl: ask podman itself
  CONTAINER_HOST="unix://$SOCK" timeout 5 podman --remote info >/dev/null 2>&1
}

write_config() {
  mkdir -p "$BED/graph" "$BED/run" "$BED/tmp"
  # netavark turns ip_forward on for bridge networks (Docker API default): restored by stop
  [ -f "$BED/ip_forward.orig" ] || cat /proc/sys/net/ipv4/ip_forward >"$BED/ip_forward.orig"
  chmod 0755 "$BED" /var/lib/sshmcp-test 2>/dev/null || true
  cat >"$CONF" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$BED/events.log"
stop_timeout = 1
exit_command_delay = 5
tmp_dir = "$BED/tmp"
[network]
network_backend = "netavark"
EOF
  cat >"$STORAGE" <<EOF
[storage]
driver = "vfs"
runroot = "$BED/run"
graphroot = "$BED/graph"
EOF
  cat >"$REGISTRIES" <<EOF
unqualified-search-registries = []
EOF
  chmod 0644 "$CONF" "$STORAGE" "$REGISTRIES"
}

import_image() {
  engine_env
  # image.v3: a 0755 root and /usr/bin/env (as Debian, Ubuntu and Alpine images do), which
  # ssh_docker_exec needs under a restrictive command policy
  if podman image exists "$IMAGE" 2>/dev/null && [ -f "$BED/image.v3" ]; then return 0; fi
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  log "importing $IMAGE from busybox-static"
  local root
  root=$(mktemp -d)
  chmod 0755 "$root" # mktemp makes 0700: the image root must be traversable by any user
  mkdir -p "$root/bin" "$root/usr/bin" "$root/tmp" "$root/etc" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/data"
  cp /bin/busybox "$root/bin/busybox"
  local a
  for a in $("$root/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
  done
  ln -s ../../bin/busybox "$root/usr/bin/env"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -cf "$root.tar" .
  podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$root.tar" "$IMAGE" >/dev/null
  rm -rf "$root" "$root.tar"
  touch "$BED/image.v3"
}

# group that may use the socket: the test users' primary groups (see tests/_support/sshd.ts)
socket_access() {
  chmod 0755 "$BED"
  local u
  for u in sshmcp sshmcpbash; do
    if id "$u" >/dev/null 2>&1; then
      setfacl -m "u:$u:rw" "$SOCK" 2>/dev/null || { chgrp "$(id -gn "$u")" "$SOCK" && chmod 0660 "$SOCK"; }
    fi
  done
  # setfacl may be missing: then the socket is shared through mode 0666 (test machine only)
  command -v setfacl >/dev/null 2>&1 || chmod 0666 "$SOCK"
}

do_start() {
  [ "$(id -u)" -eq 0 ] || { log "needs root (rootful podman)"; exit 1; }
  for b in podman runc busybox; do
    command -v "$b" >/dev/null 2>&1 || { log "$b is missing: run $0 install"; exit 1; }
  done
  mkdir -p "$BED"
  exec 9>"$BED.lock"
  flock 9
  local t0
  t0=$(date +%s%N)
  if ! answers; then
    write_config
    engine_env
    rm -f "$SOCK"
    if [ -f "$BED/service.pid" ]; then kill "$(cat "$BED/service.pid")" 2>/dev/null || true; fi
    # containers left by a service that was killed (a finished session) are stale: drop them
    podman rm -af -t 0 >/dev/null 2>&1 || true
    # started in $BED: the service (and conmon under it) outlives the caller, whose working
    # directory (a CI checkout) may be deleted, after which every container start fails
    (cd "$BED" && exec setsid podman system service --time=0 "unix://$SOCK" </dev/null \
      >"$BED/service.log" 2>&1 9>&-) &
    echo $! >"$BED/service.pid"
    local i
    for i in $(seq 1 200); do
      answers && break
      sleep 0.05
    done
    answers || { log "podman service did not answer; log:"; tail -n 20 "$BED/service.log" >&2; exit 1; }
    socket_access
    log "started in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  fi
  import_image
  flock -u 9
  echo "BED=$BED"
  echo "SOCKET=$SOCK"
  echo "CONTAINERS_CONF=$CONF"
  echo "CONTAINERS_STORAGE_CONF=$STORAGE"
  echo "CONTAINERS_REGISTRIES_CONF=$REGISTRIES"
  echo "IMAGE=$IMAGE"
  echo "DOCKER_CLI=$(command -v docker || true)"
  echo "DOCKER_COMPOSE=$(command -v docker-compose || true)"
  echo "PODMAN_COMPOSE=$(command -v podman-compose || true)"
}

do_stop() {
  [ -d "$BED" ] || return 0
  engine_env
  podman rm -af -t 0 >/dev/null 2>&1 || true
  podman pod rm -af >/dev/null 2>&1 || true
  podman network prune -f >/dev/null 2>&1 || true
  if [ -f "$BED/service.pid" ]; then kill "$(cat "$BED/service.pid")" 2>/dev/null || true; fi
  # what netavark adds when a compose network was used
  local chain
  for chain in $(iptables -S 2>/dev/null | awk '/^-N NETAVARK/ {print $2}'); do
    iptables -F "$chain" 2>/dev/null || true
  done
  { iptables -S 2>/dev/null | grep -E '^-A .*NETAVARK' || true; } | sed 's/^-A/-D/' | while read -r rule; do
    eval "iptables $rule" 2>/dev/null || true
  done
  for chain in $(iptables -S 2>/dev/null | awk '/^-N NETAVARK/ {print $2}'); do
    iptables -X "$chain" 2>/dev/null || true
  done
  for t in nat; do
    { iptables -t "$t" -S 2>/dev/null | grep -E '^-A .*NETAVARK' || true; } | sed 's/^-A/-D/' | while read -r rule; do
      eval "iptables -t $t $rule" 2>/dev/null || true
    done
    for chain in $(iptables -t "$t" -S 2>/dev/null | awk '/^-N NETAVARK/ {print $2}'); do
      iptables -t "$t" -F "$chain" 2>/dev/null || true
      iptables -t "$t" -X "$chain" 2>/dev/null || true
    done
  done
  { grep -o '/run/netns/[^ ]*' /proc/mounts 2>/dev/null || true; } | while read -r m; do umount "$m" 2>/dev/null || true; done
  if [ -f "$BED/ip_forward.orig" ]; then cat "$BED/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward || true; fi
  # vfs layers may be read-only copies: make them removable
  chmod -R u+w "$BED" 2>/dev/null || true
  rm -rf "$BED" "$BED.lock"
}

do_status() { answers; }

[ $# -eq 0 ] && set -- install start
for step in "$@"; do
  case "$step" in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    *) echo "usage: $0 [install] [start] [status] [stop]" >&2; exit 2 ;;
  esac
done
