#!/bin/bash
# Start, inspect and stop the real container daemons the integration tests
# talk to: Docker (rootful), Podman rootful and Podman rootless, each with a
# known set of containers built from a registry-less busybox image.
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

DOCKER_SOCK=/var/run/docker.sock
DOCKER_TCP=tcp://127.0.0.1:23750
PODMAN_SOCK=/run/podman/podman.sock
RL_USER=${DOCKSPEC_ROOTLESS_USER:-dsrootless}
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PING_TIMEOUT=${DOCKSPEC_PING_TIMEOUT:-60}

PACKAGES=(podman docker.io runc conmon netavark iptables uidmap slirp4netns fuse-overlayfs
          busybox-static iproute2 curl)

export PATH=$STD_PATH${PATH:+:$PATH}
export DEBIAN_FRONTEND=noninteractive
# Our CLI calls must reach the default sockets, whatever the caller exported.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG CONTAINER_HOST CONTAINER_CONNECTION \
      CONTAINERS_CONF CONTAINERS_STORAGE_CONF XDG_RUNTIME_DIR XDG_CONFIG_HOME XDG_DATA_HOME

# The known container set (the same on each daemon, names prefixed per daemon,
# host ports = base + offset). Fields: suffix|kind|command|labels|publish...
# publish = host_ip;host_port_offset;count;container_port;protocol
# (host_ip empty = all addresses; count > 1 = a published range).
# shellcheck disable=SC2034  # read through ${!cmdvar}
CMD_SERVE='trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'
# shellcheck disable=SC2034
CMD_RANGE='trap "exit 0" TERM; httpd -p 8200; while :; do sleep 1; done'
# Debian's busybox nc has no -u (and busybox-static has no udpsvd/dnsd): nothing
# listens on 53/udp inside; the published host socket is held by the daemon.
# shellcheck disable=SC2034
CMD_UDP='trap "exit 0" TERM; while :; do sleep 1; done'
# shellcheck disable=SC2034
CMD_IDLE='trap "exit 0" TERM; while :; do sleep 1; done'
DEFS=(
  "web|run|SERVE|compose|;80;1;80;tcp"
  "udp|run|UDP||;53;1;53;udp"
  "lo4|run|SERVE||127.0.0.1;81;1;80;tcp"
  "lo6|run|SERVE||::1;82;1;80;tcp"
  "range|run|RANGE||;200;4;8200;tcp"
  "noport|run|IDLE||"
  "stop|run|SERVE||;84;1;80;tcp"
  "created|create|SERVE||;90;1;80;tcp"
)
DAEMONS=(docker podman podman-rootless)

log() { printf '[daemons.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

prefix_of() { case $1 in docker) echo dsd;; podman) echo dsp;; podman-rootless) echo dsr;; esac; }
base_of()   { case $1 in docker) echo 18000;; podman) echo 28000;; podman-rootless) echo 38000;; esac; }
image_of()  { case $1 in docker) echo bb:latest;; *) echo localhost/bb:latest;; esac; }

rootless_ids() {
  RL_UID=$(id -u "$RL_USER")
  RL_GID=$(id -g "$RL_USER")
  RL_HOME=$(getent passwd "$RL_USER" | cut -d: -f6)
  RL_XDG=/run/user/$RL_UID
  RL_SOCK=$RL_XDG/podman/podman.sock
}

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

sock_of() {
  case $1 in
    docker) echo "$DOCKER_SOCK" ;;
    podman) echo "$PODMAN_SOCK" ;;
    podman-rootless) echo "$RL_SOCK" ;;
  esac
}

ping_sock() { curl -sf -m 3 --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }

# pid recorded in $STATE/NAME.pid, if that process is alive and still runs CMDPAT.
our_pid() {
  local f=$STATE/$1.pid pat=$2 pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pat" || return 1
  echo "$pid"
}

# ---------------------------------------------------------------- install
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages already installed"; return; }
  log "installing: ${missing[*]}"
  # Keep the packages' maintainer scripts from starting daemons of their own
  # (docker.io's init script would take /var/run/docker.sock).
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || die "apt-get failed ($rc)"
}

write_containers_conf() {
  local conf
  conf='# Written by dockspec scripts/daemons.sh: crun fails on this cgroup v1 hybrid host.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'
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
  if ! id -u "$RL_USER" >/dev/null 2>&1; then
    log "creating user $RL_USER"
    useradd -m -s /bin/bash "$RL_USER"
  fi
  rootless_ids
  # useradd gives subordinate ranges on Debian 12; add them if it did not.
  local f
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$RL_USER:" "$f"; then
      local start
      start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
      if [ "$f" = /etc/subuid ]; then usermod --add-subuids "$start-$((start + 65535))" "$RL_USER"
      else usermod --add-subgids "$start-$((start + 65535))" "$RL_USER"; fi
    fi
  done
  # slirp4netns opens /dev/net/tun as the user (it is 600 on these machines).
  if [ ! -e /dev/net/tun ]; then mkdir -p /dev/net; mknod /dev/net/tun c 10 200; fi
  chmod 666 /dev/net/tun
  install -d -o "$RL_UID" -g "$RL_GID" -m 700 "$RL_XDG"
  install -d -o "$RL_UID" -g "$RL_GID" -m 700 "$RL_XDG/podman"
}

# ---------------------------------------------------------------- daemons
# start_bg NAME LOG CMD... : start CMD detached (own session), pid to $STATE/NAME.pid.
start_bg() {
  local name=$1 logf=$2; shift 2
  ( cd / && exec setsid nohup "$@" </dev/null >>"$logf" 2>&1 ) &
  echo $! >"$STATE/$name.pid"
  log "started $name (pid $!), log $logf"
}

# wait_ping NAME PIDNAME LOG CURL-ARGS... : until _ping answers or timeout.
wait_ping() {
  local name=$1 pidname=$2 logf=$3; shift 3
  local deadline=$((SECONDS + PING_TIMEOUT)) pid
  pid=$(cat "$STATE/$pidname.pid")
  while :; do
    if curl -sf -m 3 "$@" >/dev/null 2>&1; then log "$name answers _ping"; return 0; fi
    if ! alive "$pid"; then
      log "$name (pid $pid) exited before answering _ping; last lines of $logf:"
      tail -n 40 "$logf" >&2 || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$name did not answer _ping within ${PING_TIMEOUT}s; last lines of $logf:"
      tail -n 40 "$logf" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

start_docker() {
  if our_pid dockerd dockerd >/dev/null && ping_sock "$DOCKER_SOCK"; then
    log "dockerd already running (pid $(our_pid dockerd dockerd))"; return
  fi
  if ping_sock "$DOCKER_SOCK"; then
    die "a Docker daemon not started by this script answers on $DOCKER_SOCK; stop it first"
  fi
  rm -f "$DOCKER_SOCK"
  mkdir -p "$DATA/docker" "$STATE/docker-exec"
  rm -f "$STATE/dockerd.daemon.pid"
  start_bg dockerd "$STATE/dockerd.log" \
    dockerd --data-root "$DATA/docker" --exec-root "$STATE/docker-exec" \
            --pidfile "$STATE/dockerd.daemon.pid" \
            -H "unix://$DOCKER_SOCK" -H "$DOCKER_TCP" --storage-driver vfs
  wait_ping dockerd dockerd "$STATE/dockerd.log" --unix-socket "$DOCKER_SOCK" http://d/_ping
  wait_ping "dockerd (tcp)" dockerd "$STATE/dockerd.log" "http://${DOCKER_TCP#tcp://}/_ping"
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
  if pgrep -u 0 -x conmon >/dev/null || pgrep -u 0 -f '^podman system service' >/dev/null; then return 0; fi
  log "rootful podman: no process of an earlier run is alive; resetting its runtime state (/run/libpod/alive)"
  rm -f /run/libpod/alive
}

forget_dead_podman_rootless() {
  local tmp=$RL_XDG/libpod/tmp
  [ -e "$tmp/alive" ] || [ -e "$tmp/pause.pid" ] || return 0
  if pgrep -u "$RL_UID" >/dev/null; then return 0; fi
  log "rootless podman: no process of $RL_USER is alive; resetting its runtime state ($tmp/alive, pause.pid)"
  rm -f "$tmp/alive" "$tmp/pause.pid"
}

start_podman() {
  if our_pid podman 'podman system service' >/dev/null && ping_sock "$PODMAN_SOCK"; then
    log "rootful podman service already running (pid $(our_pid podman 'podman system service'))"; return
  fi
  ping_sock "$PODMAN_SOCK" && die "a Podman service not started by this script answers on $PODMAN_SOCK; stop it first"
  forget_dead_podman
  mkdir -p "$(dirname "$PODMAN_SOCK")"
  rm -f "$PODMAN_SOCK"
  start_bg podman "$STATE/podman.log" podman system service --time=0 "unix://$PODMAN_SOCK"
  wait_ping "rootful podman" podman "$STATE/podman.log" --unix-socket "$PODMAN_SOCK" http://d/_ping
}

start_podman_rootless() {
  if our_pid podman-rootless 'podman system service' >/dev/null && ping_sock "$RL_SOCK"; then
    log "rootless podman service already running (pid $(our_pid podman-rootless 'podman system service'))"; return
  fi
  ping_sock "$RL_SOCK" && die "a Podman service not started by this script answers on $RL_SOCK; stop it first"
  forget_dead_podman_rootless
  rm -f "$RL_SOCK"
  : >"$STATE/podman-rootless.log"; chown "$RL_UID:$RL_GID" "$STATE/podman-rootless.log"
  start_bg podman-rootless "$STATE/podman-rootless.log" \
    setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
    env -i HOME="$RL_HOME" USER="$RL_USER" LOGNAME="$RL_USER" PATH="$STD_PATH" XDG_RUNTIME_DIR="$RL_XDG" \
    podman system service --time=0 "unix://$RL_SOCK"
  wait_ping "rootless podman" podman-rootless "$STATE/podman-rootless.log" --unix-socket "$RL_SOCK" http://d/_ping
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

# ---------------------------------------------------------------- containers
pub_arg() {  # DAEMON PUB -> the -p value
  local base ip off cnt cport proto hp
  base=$(base_of "$1")
  IFS=';' read -r ip off cnt cport proto <<<"$2"
  hp=$((base + off))
  local spec
  if [ "$cnt" -gt 1 ]; then spec="$hp-$((hp + cnt - 1)):$cport-$((cport + cnt - 1))"; else spec="$hp:$cport"; fi
  case $ip in
    "") ;;
    *:*) spec="[$ip]:$spec" ;;
    *) spec="$ip:$spec" ;;
  esac
  [ "$proto" = tcp ] || spec="$spec/$proto"
  echo "$spec"
}

container_state() { eng "$1" inspect -f '{{.State.Status}}' "$2" 2>/dev/null || true; }

REFUSED=()
ensure_container() {  # DAEMON DEF
  local d=$1 def=$2 suffix kind cmdkey labels pubs name state want
  IFS='|' read -r suffix kind cmdkey labels pubs <<<"$def"
  name=$(prefix_of "$d")-$suffix
  want=running; [ "$kind" = create ] && want=created
  state=$(container_state "$d" "$name")
  if [ "$state" = "$want" ]; then return 0; fi
  if [ "$want" = running ] && [ -n "$state" ] && [ "$state" != created ] && [ "$state" != configured ]; then
    log "$d: starting stopped $name (was $state)"
    if eng "$d" start "$name" >/dev/null 2>>"$STATE/errors.log"; then return 0; fi
  fi
  [ -n "$state" ] && eng "$d" rm -f "$name" >/dev/null 2>&1 || true
  local args=(--name "$name") p cmdvar
  [ "$labels" = compose ] && args+=(--label com.docker.compose.project=dsproj --label com.docker.compose.service=web)
  for p in $pubs; do args+=(-p "$(pub_arg "$d" "$p")"); done
  cmdvar=CMD_$cmdkey
  local verb=(run -d) out rc=0
  [ "$kind" = create ] && verb=(create)
  log "$d: ${verb[*]} $name ${args[*]:2}"
  out=$(eng "$d" "${verb[@]}" "${args[@]}" "$(image_of "$d")" sh -c "${!cmdvar}" 2>&1) || rc=$?
  if [ $rc -ne 0 ]; then
    out=$(printf '%s' "$out" | tr '\n' ' ')
    log "$d: $name refused ($rc): $out"
    REFUSED+=("$d|$name|$pubs|$out")
    eng "$d" rm -f "$name" >/dev/null 2>&1 || true
    return 0
  fi
  state=$(container_state "$d" "$name")
  [ "$state" = "$want" ] || die "$d: $name is '$state', expected '$want'"
}

json_str() {  # minimal JSON string escaping (names, ids, messages)
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/ }; s=${s//$'\r'/ }; s=${s//$'\n'/ }
  printf '"%s"' "$s"
}

write_containers_json() {
  local out=$STATE/containers.json.tmp first=1 d def suffix kind cmdkey labels pubs name id p
  {
    echo '['
    for d in "${DAEMONS[@]}"; do
      for def in "${DEFS[@]}"; do
        IFS='|' read -r suffix kind cmdkey labels pubs <<<"$def"
        name=$(prefix_of "$d")-$suffix
        id=$(eng "$d" inspect -f '{{.Id}}' "$name" 2>/dev/null) || continue
        [ $first = 1 ] || echo ','
        first=0
        local want=running; [ "$kind" = create ] && want=created
        printf '  {"daemon": "%s", "name": "%s", "id": "%s", "state": "%s", "image": "%s", "socket": "%s",\n' \
          "$d" "$name" "$id" "$want" "$(image_of "$d")" "$(sock_of "$d")"
        if [ "$labels" = compose ]; then
          printf '   "labels": {"com.docker.compose.project": "dsproj", "com.docker.compose.service": "web"},\n'
        else
          printf '   "labels": {},\n'
        fi
        local pa=() pj=() ip off cnt cport proto i base
        base=$(base_of "$d")
        for p in $pubs; do
          pa+=("\"$(pub_arg "$d" "$p")\"")
          IFS=';' read -r ip off cnt cport proto <<<"$p"
          for ((i = 0; i < cnt; i++)); do
            if [ -z "$ip" ]; then ipj=null; else ipj="\"$ip\""; fi
            pj+=("{\"host_ip\": $ipj, \"host_port\": $((base + off + i)), \"container_port\": $((cport + i)), \"protocol\": \"$proto\", \"range_start\": $((base + off)), \"range_count\": $cnt}")
          done
        done
        printf '   "publish": [%s],\n' "$(IFS=,; echo "${pa[*]}" | sed 's/,/, /g')"
        if [ ${#pj[@]} -eq 0 ]; then
          printf '   "ports": []}'
        else
          printf '   "ports": [\n'
          for ((i = 0; i < ${#pj[@]}; i++)); do
            printf '     %s' "${pj[$i]}"; [ $i -lt $((${#pj[@]} - 1)) ] && printf ',\n' || printf ']}'
          done
        fi
      done
    done
    echo
    echo ']'
  } >"$out"
  mv "$out" "$STATE/containers.json"

  # Bindings a daemon refused (kept across runs: a reused daemon is not asked again).
  if [ ${#REFUSED[@]} -gt 0 ] || [ ! -e "$STATE/refused.json" ]; then
    {
      printf '['
      local r rd rn rp rm n=0
      for r in "${REFUSED[@]}"; do
        IFS='|' read -r rd rn rp rm <<<"$r"
        [ $n = 0 ] && printf '\n' || printf ',\n'
        n=1
        printf '  {"daemon": "%s", "name": "%s", "publish": "%s", "error": %s}' \
          "$rd" "$rn" "$(pub_arg "$rd" "$rp")" "$(json_str "$rm")"
      done
      [ $n = 0 ] || printf '\n'
      echo ']'
    } >"$STATE/refused.json"
  fi
}

write_env() {
  cat >"$STATE/env.tmp" <<EOF
# Written by scripts/daemons.sh up. Source it: . $STATE/env
DOCKSPEC_STATE_DIR=$STATE
DOCKSPEC_DOCKER_SOCK=$DOCKER_SOCK
DOCKSPEC_DOCKER_TCP=$DOCKER_TCP
DOCKSPEC_DOCKER_PID=$(cat "$STATE/dockerd.pid")
DOCKSPEC_PODMAN_SOCK=$PODMAN_SOCK
DOCKSPEC_PODMAN_PID=$(cat "$STATE/podman.pid")
DOCKSPEC_ROOTLESS_USER=$RL_USER
DOCKSPEC_ROOTLESS_UID=$RL_UID
DOCKSPEC_ROOTLESS_GID=$RL_GID
DOCKSPEC_ROOTLESS_HOME=$RL_HOME
DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR=$RL_XDG
DOCKSPEC_ROOTLESS_SOCK=$RL_SOCK
DOCKSPEC_ROOTLESS_PID=$(cat "$STATE/podman-rootless.pid")
DOCKSPEC_CONTAINERS_JSON=$STATE/containers.json
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
  local d def
  for d in "${DAEMONS[@]}"; do
    for def in "${DEFS[@]}"; do ensure_container "$d" "$def"; done
  done
  write_containers_json
  write_env
  log "up done in $((SECONDS - t0))s; env: $STATE/env, containers: $STATE/containers.json"
}

# alive PID: the process exists and is not a zombie (pid 1 here may reap late).
alive() {
  local st
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

descendants() {  # PID: its children, grandchildren, ...
  local c
  for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done
}

stop_pid() {  # NAME CMDPAT [tree]
  local pid i p pids left
  pid=$(our_pid "$1" "$2") || { rm -f "$STATE/$1.pid"; return 0; }
  # tree: the process's descendants too. Rootless Podman re-executes itself
  # inside its user namespace; the child serves the socket and outlives a
  # SIGTERM to the parent, so a later `up` would find a service not its own.
  pids=("$pid")
  [ "${3:-}" = tree ] && mapfile -t -O 1 pids < <(descendants "$pid")
  log "stopping $1 (pid ${pids[*]})"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    left=()
    for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break
    sleep 0.2
  done
  if [ ${#left[@]} -gt 0 ]; then log "$1 (pid ${left[*]}) ignored SIGTERM for 20s; SIGKILL"; kill -KILL "${left[@]}" 2>/dev/null || true; fi
  rm -f "$STATE/$1.pid"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "run as root"
  local d def suffix rest name have_rl=0
  id -u "$RL_USER" >/dev/null 2>&1 && { rootless_ids; have_rl=1; }
  for d in "${DAEMONS[@]}"; do
    [ "$d" = podman-rootless ] && [ $have_rl = 0 ] && continue
    command -v "${d%-rootless}" >/dev/null 2>&1 || continue
    [ "$d" = docker ] && ! ping_sock "$DOCKER_SOCK" && continue
    for def in "${DEFS[@]}"; do
      IFS='|' read -r suffix rest <<<"$def"
      name=$(prefix_of "$d")-$suffix
      if eng "$d" inspect -f '{{.Id}}' "$name" >/dev/null 2>&1; then
        log "$d: removing $name"
        eng "$d" rm -f "$name" >/dev/null 2>&1 || log "$d: could not remove $name"
      fi
    done
  done
  stop_pid dockerd dockerd
  stop_pid podman 'podman system service' tree
  stop_pid podman-rootless 'podman system service' tree
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
    pid=$(our_pid "$pidname" "$pat" || echo "-")
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
