#!/usr/bin/env bash
# A throwaway rootless Docker daemon (dockerd-rootless.sh under rootlesskit),
# to see which process holds a rootless Docker's published port (issue 12).
# Not a bed: started and removed by tests/integration/test_holders_live.py (or
# by hand), under the live lock:
#   flock -o /tmp/dockspec-live.lock bash scripts/rootless-docker.sh up|down
#
# Debian 12's docker.io ships dockerd-rootless.sh in /usr/share/docker.io/contrib;
# rootlesskit is its own package (`apt-get install rootlesskit`). It runs as
# the rootless Podman 4.3 user of scripts/daemons.sh (dsrootless: its
# subordinate ids are set up there), with a private XDG_RUNTIME_DIR
# (/run/dockspec-rldocker, so nothing lands in /run/user/UID where other tests
# look) and data root (/var/tmp/dockspec-rldocker), vfs, slirp4netns and
# rootlesskit's builtin port driver (the script's defaults). Containers:
# dsrl-web (RLD_PORT 47380 on every address) and dsrl-lo4 (127.0.0.1:47381).
set -euo pipefail

# The daemon must not keep any descriptor of its caller open: run under
# `flock LOCK bash THIS up`, it would hold the live lock for as long as it
# runs (use `flock -o` all the same).
CLOSE_FDS='for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null'

RL_USER=${DOCKSPEC_ROOTLESS_USER:-dsrootless}
STATE=/run/dockspec-rldocker
DATA=/var/tmp/dockspec-rldocker
SOCK=$STATE/docker.sock
CONTRIB=/usr/share/docker.io/contrib
log() { echo "[rootless-docker.sh $(date -u +%T)] $*" >&2; }
dk() { docker -H "unix://$SOCK" "$@"; }
CMD='trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'

up() {
  command -v rootlesskit >/dev/null || { log "rootlesskit is not installed (apt-get install rootlesskit)"; exit 3; }
  [ -x "$CONTRIB/dockerd-rootless.sh" ] || { log "no $CONTRIB/dockerd-rootless.sh (docker.io)"; exit 3; }
  if [ -f "$STATE/env" ] && dk version >/dev/null 2>&1; then log "already up"; return; fi
  local uid gid home
  uid=$(id -u "$RL_USER"); gid=$(id -g "$RL_USER"); home=$(getent passwd "$RL_USER" | cut -d: -f6)
  install -d -o "$uid" -g "$gid" -m 700 "$STATE" "$DATA"
  rm -f "$SOCK"
  # setsid: its own session; the pid file holds rootlesskit's pid (each step execs the next).
  cd /
  setsid bash -c "$CLOSE_FDS"'; echo $$ >"$0/daemon.pid"; exec "${@:1}"' "$STATE" \
    setpriv --reuid="$uid" --regid="$gid" --init-groups \
    env -i HOME="$home" USER="$RL_USER" XDG_RUNTIME_DIR="$STATE" \
      PATH="$CONTRIB:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    dockerd-rootless.sh --data-root "$DATA/data" --storage-driver vfs --pidfile "$STATE/dockerd.pid" \
    </dev/null >"$DATA/dockerd.log" 2>&1 &
  for _ in $(seq 1 120); do dk version >/dev/null 2>&1 && break; sleep 0.5; done
  dk version >/dev/null 2>&1 || { tail -20 "$DATA/dockerd.log" >&2; exit 1; }
  dk image inspect bb:latest >/dev/null 2>&1 || docker save bb:latest | dk load -q
  dk rm -f dsrl-web dsrl-lo4 >/dev/null 2>&1 || true
  local web lo4
  web=$(dk run -d --name dsrl-web -p 47380:80 bb:latest sh -c "$CMD")
  lo4=$(dk run -d --name dsrl-lo4 -p 127.0.0.1:47381:80 bb:latest sh -c "$CMD")
  {
    echo "RLD_VERSION=$(dk version -f '{{.Server.Version}}')"
    echo "RLD_SOCK=$SOCK"
    echo "RLD_UID=$uid"
    echo "RLD_ROOTLESSKIT_PID=$(cat "$STATE/daemon.pid")"
    echo "RLD_WEB_ID=$web"
    echo "RLD_WEB_PORT=47380"
    echo "RLD_LO4_ID=$lo4"
    echo "RLD_LO4_PORT=47381"
  } >"$STATE/env.new"
  mv "$STATE/env.new" "$STATE/env"
  log "up: $(tr '\n' ' ' <"$STATE/env")"
}

down() {
  [ -S "$SOCK" ] && dk rm -f dsrl-web dsrl-lo4 >/dev/null 2>&1 || true
  local pid
  pid=$(cat "$STATE/daemon.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rootlesskit ]; then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$STATE"
  log "down (data kept in $DATA: the image layers)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: rootless-docker.sh up|down" >&2; exit 2 ;;
esac
