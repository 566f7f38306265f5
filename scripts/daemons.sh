#!/bin/bash
# Start, inspect and stop the real container daemons the integration tests
# talk to: Docker (rootful), Podman rootful and Podman rootless, each with a
# known set of containers built from a registry-less busybox image
# (scripts/containers.txt, bed `debian12`: on Docker and rootful Podman also a
# `--network host` container, dsd-host and dsp-host on 18086 and 28086, whose
# own httpd holds the host socket: no proxy, found by its cgroup).
#
#   scripts/daemons.sh up       install what is missing, start, create containers
#   scripts/daemons.sh status   sockets, pids, _ping, containers (exit 0 iff all answer)
#   scripts/daemons.sh down     remove our containers, stop the daemons we started
#
# Debian 12, run as root. No systemd needed. Facts and notes: scripts/README-daemons.md.
set -euo pipefail

STATE=${DOCKSPEC_STATE_DIR:-/run/dockspec-daemons}      # pids, logs, env, containers.json
DATA=${DOCKSPEC_DATA_DIR:-/var/lib/dockspec-daemons}    # docker --data-root (on disk)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=daemons.sh
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"
BED=debian12

DOCKER_SOCK=/var/run/docker.sock
DOCKER_TCP=tcp://127.0.0.1:23750
PODMAN_SOCK=/run/podman/podman.sock
RL_USER=${DOCKSPEC_ROOTLESS_USER:-dsrootless}
PING_TIMEOUT=${DOCKSPEC_PING_TIMEOUT:-60}

PACKAGES=(podman docker.io runc conmon netavark iptables uidmap slirp4netns fuse-overlayfs
          busybox-static iproute2 curl)

export PATH=$STD_PATH${PATH:+:$PATH}
export DEBIAN_FRONTEND=noninteractive
# Our CLI calls must reach the default sockets, whatever the caller exported.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG CONTAINER_HOST CONTAINER_CONNECTION \
      CONTAINERS_CONF CONTAINERS_STORAGE_CONF XDG_RUNTIME_DIR XDG_CONFIG_HOME XDG_DATA_HOME

# The container set (the same on each daemon, names prefixed per daemon, host
# ports = base + offset) is data: scripts/containers.txt.
# The daemons: name|container name prefix|host port base|image.
DAEMON_TABLE=(
  "docker|dsd|18000|bb:latest"
  "podman|dsp|28000|localhost/bb:latest"
  "podman-rootless|dsr|38000|localhost/bb:latest"
)

# Run a command as the rootless user with a clean, explicit environment.
as_rl() {
  ( cd / && exec setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
      env -i HOME="$RL_HOME" USER="$RL_USER" LOGNAME="$RL_USER" PATH="$STD_PATH" \
      XDG_RUNTIME_DIR="$RL_XDG" "$@" )
}

# eng DAEMON ARGS... : the daemon's CLI (local, not through the API socket).
eng() {
  local d=$1; shift
  case $d in
    docker) docker "$@" ;;
    podman) podman "$@" ;;
    podman-rootless) as_rl podman "$@" ;;
  esac
}

# ---------------------------------------------------------------- install
install_packages() { install_missing "${PACKAGES[@]}"; }

write_containers_conf() {
  local conf
  conf="# Written by dockspec scripts/daemons.sh: crun fails on this cgroup v1 hybrid host.
$ENGINE_CONF"
  mkdir -p /etc/containers
  if [ -e /etc/containers/containers.conf ] && ! grep -q 'dockspec scripts/daemons.sh' /etc/containers/containers.conf \
     && [ ! -e /etc/containers/containers.conf.dockspec-orig ]; then
    cp -p /etc/containers/containers.conf /etc/containers/containers.conf.dockspec-orig
  fi
  printf '%s' "$conf" >/etc/containers/containers.conf
  install -d -o "$RL_UID" -g "$RL_GID" -m 755 "$RL_HOME/.config" "$RL_HOME/.config/containers"
  printf '%s' "$conf" >"$RL_HOME/.config/containers/containers.conf"
  chown "$RL_UID:$RL_GID" "$RL_HOME/.config/containers/containers.conf"
}

setup_rootless_user() {
  ensure_user "$RL_USER"
  rootless_ids
  open_tun
  install -d -o "$RL_UID" -g "$RL_GID" -m 700 "$RL_XDG"
  install -d -o "$RL_UID" -g "$RL_GID" -m 700 "$RL_XDG/podman"
}

# ---------------------------------------------------------------- daemons
start_docker() {
  if our_pid "$STATE/dockerd.pid" dockerd >/dev/null && ping_sock "$DOCKER_SOCK"; then
    log "dockerd already running (pid $(our_pid "$STATE/dockerd.pid" dockerd))"; return
  fi
  if ping_sock "$DOCKER_SOCK"; then
    die "a Docker daemon not started by this script answers on $DOCKER_SOCK; stop it first"
  fi
  rm -f "$DOCKER_SOCK"
  mkdir -p "$DATA/docker" "$STATE/docker-exec"
  rm -f "$STATE/dockerd.daemon.pid"
  start_bg "$STATE/dockerd.pid" "$STATE/dockerd.log" \
    dockerd --data-root "$DATA/docker" --exec-root "$STATE/docker-exec" \
            --pidfile "$STATE/dockerd.daemon.pid" \
            -H "unix://$DOCKER_SOCK" -H "$DOCKER_TCP" --storage-driver vfs
  wait_ping dockerd "$STATE/dockerd.pid" "$STATE/dockerd.log" --unix-socket "$DOCKER_SOCK" http://d/_ping
  wait_ping "dockerd (tcp)" "$STATE/dockerd.pid" "$STATE/dockerd.log" "http://${DOCKER_TCP#tcp://}/_ping"
}

# When every process of an earlier run was killed (a session's end kills what
# it started, but /run is not a tmpfs here and keeps Podman's runtime state),
# Podman still believes its containers run, and rootless Podman tries to join
# the dead pause process's namespaces ("invalid internal status, try resetting
# the pause process"). Podman repairs its state ("refresh") at the first start
# after a reboot, which it detects by a missing `alive` file in its tmp dir:
# remove that file (and the dead pause pid) only when no process of that
# Podman is left, so that a live Podman is never touched.
forget_dead_podman() {
  [ -e /run/libpod/alive ] || return 0
  # Only processes in the host's root count: scripts/engines.sh runs a
  # Podman 5 (its conmons, its service) chrooted beside this one.
  local p
  for p in $(pgrep -u 0 -x conmon; pgrep -u 0 -f '^podman system service'); do
    [ "$(readlink "/proc/$p/root" 2>/dev/null)" = / ] && return 0
  done
  log "rootful podman: no process of an earlier run is alive; resetting its runtime state (/run/libpod/alive, netavark's iptables chains)"
  rm -f /run/libpod/alive
  # Its lock segment in /dev/shm (kept like /run) still holds the dead
  # containers' locks (see forget_dead_podman_rootless). /dev/shm is shared
  # with a chrooted Podman 5 of scripts/engines.sh: only when none runs either.
  if ! pgrep -u 0 -x conmon >/dev/null && ! pgrep -u 0 -f '^podman system service' >/dev/null; then
    rm -f /dev/shm/libpod_lock
  fi
  # A killed Podman never tore down its containers' port forwarding: the DNAT
  # rules to the dead containers' addresses stay first in netavark's chains,
  # and the restarted container's port does not answer (seen: 28080, after a
  # kill -9 of the bed). A reboot would have emptied them; flush them too.
  local t c
  for t in nat filter; do
    for c in $(iptables -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^NETAVARK/ {print $2}'); do
      iptables -t "$t" -F "$c"
    done
  done
}

forget_dead_podman_rootless() {
  local tmp=$RL_XDG/libpod/tmp
  [ -e "$tmp/alive" ] || [ -e "$tmp/pause.pid" ] || return 0
  # Podman's own processes only, and only live ones: a container's payload
  # (httpd, sh) or a zombie outliving the pause process does not keep it usable.
  local p comm
  for p in $(pgrep -u "$RL_UID"); do
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    case $comm in podman|conmon|catatonit|slirp4netns|rootlessport|rootlessport-chi*) alive "$p" && return 0 ;; esac
  done
  # Its lock segment in /dev/shm (a tmpfs, kept like /run) still holds the dead
  # containers' locks: the refresh then fails ("acquiring lock N ... file
  # exists") and a new container can get a lock in use (seen: 'stopping').
  log "rootless podman: no Podman process of $RL_USER is alive; resetting its runtime state ($tmp/alive, pause.pid, /dev/shm/libpod_rootless_lock_$RL_UID)"
  rm -f "$tmp/alive" "$tmp/pause.pid" "/dev/shm/libpod_rootless_lock_$RL_UID"
}

start_podman() {
  if our_pid "$STATE/podman.pid" 'podman system service' >/dev/null && ping_sock "$PODMAN_SOCK"; then
    log "rootful podman service already running (pid $(our_pid "$STATE/podman.pid" 'podman system service'))"; return
  fi
  ping_sock "$PODMAN_SOCK" && die "a Podman service not started by this script answers on $PODMAN_SOCK; stop it first"
  forget_dead_podman
  mkdir -p "$(dirname "$PODMAN_SOCK")"
  rm -f "$PODMAN_SOCK"
  start_bg "$STATE/podman.pid" "$STATE/podman.log" podman system service --time=0 "unix://$PODMAN_SOCK"
  wait_ping "rootful podman" "$STATE/podman.pid" "$STATE/podman.log" --unix-socket "$PODMAN_SOCK" http://d/_ping
}

start_podman_rootless() {
  if our_pid "$STATE/podman-rootless.pid" 'podman system service' >/dev/null && ping_sock "$RL_SOCK"; then
    log "rootless podman service already running (pid $(our_pid "$STATE/podman-rootless.pid" 'podman system service'))"; return
  fi
  ping_sock "$RL_SOCK" && die "a Podman service not started by this script answers on $RL_SOCK; stop it first"
  forget_dead_podman_rootless
  rm -f "$RL_SOCK"
  : >"$STATE/podman-rootless.log"; chown "$RL_UID:$RL_GID" "$STATE/podman-rootless.log"
  start_bg "$STATE/podman-rootless.pid" "$STATE/podman-rootless.log" \
    setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
    env -i HOME="$RL_HOME" USER="$RL_USER" LOGNAME="$RL_USER" PATH="$STD_PATH" XDG_RUNTIME_DIR="$RL_XDG" \
    podman system service --time=0 "unix://$RL_SOCK"
  wait_ping "rootless podman" "$STATE/podman-rootless.pid" "$STATE/podman-rootless.log" --unix-socket "$RL_SOCK" http://d/_ping
}

# ---------------------------------------------------------------- image
ensure_images() {
  local tar=$STATE/bb-rootfs.tar d
  if [ ! -s "$tar" ]; then
    "$HERE/rootfs.sh" "$tar.tmp" && mv "$tar.tmp" "$tar"
    chmod 644 "$tar"
  fi
  if ! docker image inspect bb:latest >/dev/null 2>&1; then
    log "importing bb:latest into docker"
    docker import --change 'CMD ["/bin/serve"]' "$tar" bb:latest >/dev/null
  fi
  for d in podman podman-rootless; do
    if ! eng "$d" image exists localhost/bb:latest; then
      log "importing localhost/bb:latest into $d"
      eng "$d" import --change 'CMD=["/bin/serve"]' "$tar" localhost/bb:latest >/dev/null
    fi
  done
}

write_env() {
  cat >"$STATE/env.tmp" <<EOF
# Written by scripts/daemons.sh up. Source it: . $STATE/env
$(env_common)
EOF
  mv "$STATE/env.tmp" "$STATE/env"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root"
  local t0=$SECONDS
  install -d -m 755 "$STATE" "$DATA"
  install_packages
  setup_rootless_user
  write_containers_conf
  start_docker
  start_podman
  start_podman_rootless
  ensure_images
  ensure_containers
  write_containers_json
  write_env
  log "up done in $((SECONDS - t0))s; env: $STATE/env, containers: $STATE/containers.json"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "run as root"
  local d have_rl=0
  id -u "$RL_USER" >/dev/null 2>&1 && { rootless_ids; have_rl=1; }
  for d in "${DAEMONS[@]}"; do
    [ "$d" = podman-rootless ] && [ $have_rl = 0 ] && continue
    command -v "${d%-rootless}" >/dev/null 2>&1 || continue
    [ "$d" = docker ] && ! ping_sock "$DOCKER_SOCK" && continue
    remove_containers "$d"
  done
  stop_pid dockerd "$STATE/dockerd.pid" dockerd
  stop_pid podman "$STATE/podman.pid" 'podman system service' tree
  stop_pid podman-rootless "$STATE/podman-rootless.pid" 'podman system service' tree
  # The rootless user-namespace holder podman started for the service.
  if [ $have_rl = 1 ] && [ -s "$RL_XDG/libpod/tmp/pause.pid" ]; then
    local pp; pp=$(cat "$RL_XDG/libpod/tmp/pause.pid")
    if [ "$(stat -c %u "/proc/$pp" 2>/dev/null)" = "$RL_UID" ] && tr '\0' ' ' <"/proc/$pp/cmdline" | grep -q podman; then
      log "stopping rootless podman pause process (pid $pp)"
      kill -TERM "$pp" 2>/dev/null || true
    fi
  fi
  rm -f "$STATE/env" "$STATE/containers.json" "$STATE/refused.json"
  log "down done (packages, images and the $RL_USER user are kept)"
}

cmd_status() {
  local ok=0 d sock pidname pat pid ping
  id -u "$RL_USER" >/dev/null 2>&1 && rootless_ids || { RL_SOCK="(no user $RL_USER)"; }
  for d in "${DAEMONS[@]}"; do
    case $d in
      docker) pidname=dockerd; pat=dockerd ;;
      podman) pidname=podman; pat='podman system service' ;;
      podman-rootless) pidname=podman-rootless; pat='podman system service' ;;
    esac
    sock=$(sock_of "$d")
    pid=$(our_pid "$STATE/$pidname.pid" "$pat" || echo "-")
    if ping_sock "$sock"; then ping=yes; else ping=no; ok=1; fi
    echo "== $d  socket=$sock  pid=$pid  ping=$ping"
    [ "$d" = docker ] && { curl -sf -m 3 "http://${DOCKER_TCP#tcp://}/_ping" >/dev/null 2>&1 && echo "   tcp=$DOCKER_TCP ping=yes" || echo "   tcp=$DOCKER_TCP ping=no"; }
    if [ $ping = yes ]; then
      eng "$d" ps -a --filter "name=^$(prefix_of "$d")-" --format '{{.Names}}  {{.Status}}  {{.Ports}}' 2>/dev/null | sed 's/^/   /' || true
    fi
  done
  return $ok
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
