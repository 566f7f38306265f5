#!/usr/bin/env bash
# A throwaway Docker daemon with `userland-proxy: false`, to see which process
# holds a published port when docker-proxy does not (issue 12). Not a bed:
# started and removed by tests/integration/test_noproxy_live.py (or by hand),
# under the live lock: `flock -o /tmp/dockspec-live.lock bash scripts/noproxy.sh up 20.10`.
#
#   up 20.10   the host's dockerd (Debian 12's Docker 20.10)
#   up 28      the forky bed's dockerd, chrooted into its ROOT (scripts/engines.sh must be up)
#   down VER   stop that daemon (by its pid), remove its container, bridge and state
#
# Each gets its own socket, data-root, exec-root, pidfile and bridge, the vfs
# driver, and no iptables (the other dockerds of this machine own theirs);
# one container `dsnp-web` publishes NOPROXY_PORT (20.10: 47080, 28: 47280) to
# busybox httpd. The state (env file: socket, pid, port, container id) is in
# /run/dockspec-noproxy-VER.
set -euo pipefail

# The daemon must not keep any descriptor of its caller open: run under
# `flock LOCK bash THIS up`, it would hold the live lock for as long as it
# runs (use `flock -o` all the same).
CLOSE_FDS='for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null'

VER=${2:-20.10}
case "$VER" in
  20.10) PORT=47080; BRIDGE=dsnp20; NET=172.31.250; ROOT=/ ;;
  28) PORT=47280; BRIDGE=dsnp28; NET=172.31.251; ROOT=$(. /run/dockspec-engines/env && echo "$DOCKSPEC_ENGINES_ROOT") ;;
  *) echo "noproxy.sh: version 20.10 or 28" >&2; exit 2 ;;
esac
STATE=/run/dockspec-noproxy-$VER
INNER=$STATE                  # the state as the daemon sees it (inside ROOT for 28)
[ "$ROOT" = / ] || INNER=/run/dockspec-noproxy
SOCK=$STATE/docker.sock

in_root() { if [ "$ROOT" = / ]; then "$@"; else chroot "$ROOT" "$@"; fi; }
log() { echo "[noproxy.sh $VER $(date -u +%T)] $*" >&2; }
dk() { docker -H "unix://$SOCK" "$@"; }

up() {
  mkdir -p "$STATE"
  if [ -f "$STATE/env" ] && dk version >/dev/null 2>&1; then log "already up"; return; fi
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  local -a run=()
  if [ "$ROOT" != / ]; then
    mkdir -p "$ROOT$INNER"
    mountpoint -q "$ROOT$INNER" || mount --bind "$STATE" "$ROOT$INNER"
    run=(chroot "$ROOT")
  fi
  rm -f "$SOCK"
  # setsid: its own session, so the caller's end does not take it down with it.
  setsid bash -c "$CLOSE_FDS"'; echo $$ >"$0/daemon.pid"; exec "${@:1}"' "$STATE" "${run[@]}" \
    dockerd -H "unix://$INNER/docker.sock" --data-root "$INNER/data" --exec-root "$INNER/exec" \
      --pidfile "$INNER/dockerd.pid" --storage-driver vfs -b "$BRIDGE" \
      --iptables=false --ip6tables=false --userland-proxy=false \
      </dev/null >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 120); do dk version >/dev/null 2>&1 && break; sleep 0.5; done
  dk version >/dev/null 2>&1 || { tail -20 "$STATE/dockerd.log" >&2; exit 1; }
  if ! dk image inspect bb:latest >/dev/null 2>&1; then
    if [ "$VER" = 20.10 ]; then docker save bb:latest; else /run/dockspec-engines/bin/docker save bb:latest; fi | dk load -q
  fi
  dk rm -f dsnp-web >/dev/null 2>&1 || true
  local id
  id=$(dk run -d --name dsnp-web -p "$PORT:80" bb:latest sh -c 'trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done')
  {
    echo "NOPROXY_VERSION=$(dk version -f '{{.Server.Version}}')"
    echo "NOPROXY_SOCK=$SOCK"
    echo "NOPROXY_DOCKERD_PID=$(cat "$STATE/daemon.pid")"
    echo "NOPROXY_PORT=$PORT"
    echo "NOPROXY_ID=$id"
  } >"$STATE/env"
  log "up: $(tr '\n' ' ' <"$STATE/env")"
}

down() {
  if [ -S "$SOCK" ]; then dk rm -f dsnp-web >/dev/null 2>&1 || true; fi
  local pid
  pid=$(cat "$STATE/daemon.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  if [ "$ROOT" != / ] && mountpoint -q "$ROOT$INNER"; then
    # the daemon's data-root lives under the bind: its vfs layers go with the state
    umount -R "$ROOT$INNER" 2>/dev/null || umount -l "$ROOT$INNER"
  fi
  for m in $(awk -v s="$STATE" '$5 ~ "^"s {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" || true; done
  rm -rf "$STATE"
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: noproxy.sh up|down 20.10|28" >&2; exit 2 ;;
esac
