# shellcheck shell=bash
# Shared by scripts/daemons.sh, scripts/discovery.sh and scripts/engines.sh:
# logging, process checks, package installs, a guarded `rm -rf`, and the
# container set of scripts/containers.txt (creating it, writing
# containers.json). Source it after setting LOG_TAG.
#
# The container functions call back into the sourcing script, which defines:
#   DAEMON_TABLE (array of daemon|prefix|port base|image),
#   BED (debian12 | forky), STATE (directory), RL_USER, DOCKER_SOCK,
#   DOCKER_TCP, PODMAN_SOCK,
#   eng DAEMON ARGS...   the daemon's own CLI

# What a bed starts must keep no descriptor of its caller: under `flock LOCK
# bash scripts/X.sh up` its long-lived processes (dockerd, podman,
# aardvark-dns, ...) would hold the lock for as long as they run. Every
# inherited descriptor but 0-2 (and 255, bash's own copy of the script) goes.
for _fd in /proc/$$/fd/*; do
  case ${_fd##*/} in 0|1|2|255) ;; *) eval "exec ${_fd##*/}>&-" 2>/dev/null || true ;; esac
done
unset _fd

# shellcheck disable=SC2034  # used by the scripts that source this one
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONTAINERS_TXT=$LIB_DIR/containers.txt

log() { printf '[%s %s] %s\n' "${LOG_TAG:-dockspec}" "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# alive PID: the process exists and is not a zombie (pid 1 here may reap late).
alive() {
  local st
  case ${1:-} in ''|*[!0-9]*) return 1 ;; esac
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# our_pid PIDFILE PATTERN: the pid in PIDFILE, if that process is alive and
# its command line contains PATTERN (so a recycled pid is never ours).
our_pid() {
  local f=$1 pat=$2 pid
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 <"$f")
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pat" || return 1
  echo "$pid"
}

descendants() {  # PID: its children, grandchildren, ...
  local c
  for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done
}

# stop_pid NAME PIDFILE PATTERN [tree]: SIGTERM the recorded process (and with
# `tree` its descendants: rootless Podman re-executes itself inside its user
# namespace, and the child serves the socket and outlives a SIGTERM to the
# parent), SIGKILL what is left after 20 s, remove PIDFILE.
stop_pid() {
  local name=$1 f=$2 pat=$3 pid i p pids left=()
  pid=$(our_pid "$f" "$pat") || { rm -f "$f"; return 0; }
  pids=("$pid")
  [ "${4:-}" = tree ] && mapfile -t -O 1 pids < <(descendants "$pid")
  log "stopping $name (pid ${pids[*]})"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    left=()
    for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break
    sleep 0.2
  done
  if [ ${#left[@]} -gt 0 ]; then
    log "$name (pid ${left[*]}) ignored SIGTERM for 20s; SIGKILL"
    kill -KILL "${left[@]}" 2>/dev/null || true
  fi
  rm -f "$f"
}

# start_bg PIDFILE LOG CMD... : start CMD detached (own session, stdin
# /dev/null, no descriptor above 2), its pid to PIDFILE. setsid, nohup,
# setpriv, env, chroot all exec, so the pid is the daemon's own.
# Descriptors are closed because `flock LOCK cmd` hands its lock's descriptor
# down: a daemon started under the shared live-test lock would otherwise hold
# that lock for as long as it runs (seen: every waiter blocked for 17 min).
start_bg() {
  local f=$1 logf=$2; shift 2
  (
    cd /
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec setsid nohup "$@" </dev/null >>"$logf" 2>&1
  ) &
  echo $! >"$f"
  log "started $(basename "$f" .pid) (pid $!), log $logf"
}

ping_sock() { curl -sf -m 3 --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }

# wait_ping NAME PIDFILE LOG CURL-ARGS... : until curl CURL-ARGS succeeds;
# exit 1 (with the log's tail) if the process dies or PING_TIMEOUT passes.
wait_ping() {
  local name=$1 f=$2 logf=$3; shift 3
  local deadline=$((SECONDS + ${PING_TIMEOUT:-60})) pid
  pid=$(tr -dc 0-9 <"$f")
  while :; do
    if curl -sf -m 3 "$@" >/dev/null 2>&1; then log "$name answers _ping"; return 0; fi
    if ! alive "$pid"; then
      log "$name (pid $pid) exited before answering _ping; last lines of $logf:"
      tail -n 40 "$logf" >&2 || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$name did not answer _ping within ${PING_TIMEOUT:-60}s; last lines of $logf:"
      tail -n 40 "$logf" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

# install_missing PKG...: apt-get install the packages not installed yet
# (apt-get update only then). A policy-rc.d made for the install keeps the
# maintainer scripts from starting daemons of their own (docker.io's init
# script would take /var/run/docker.sock).
install_missing() {
  local missing=() p made_policy=0 rc=0
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages already installed"; return 0; }
  log "installing: ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || die "apt-get failed ($rc)"
}

# ensure_user NAME: a host user with a home and /etc/subuid, /etc/subgid
# ranges (useradd gives them on Debian 12; they are added if it did not).
ensure_user() {
  local u=$1 f start
  if ! id -u "$u" >/dev/null 2>&1; then
    log "creating user $u"
    useradd -m -s /bin/bash "$u"
  fi
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$u:" "$f"; then
      start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
      if [ "$f" = /etc/subuid ]; then usermod --add-subuids "$start-$((start + 65535))" "$u"
      else usermod --add-subgids "$start-$((start + 65535))" "$u"; fi
    fi
  done
}

# slirp4netns and pasta open /dev/net/tun as the user (it is 600 on these machines).
open_tun() {
  if [ ! -e /dev/net/tun ]; then mkdir -p /dev/net; mknod /dev/net/tun c 10 200; fi
  chmod 666 /dev/net/tun
}

# ---------------------------------------------------------------- guarded rm -rf
# Paths the scripts may delete recursively. Every one of them can be changed
# by an environment variable (DOCKSPEC_STATE_DIR, ...), so each is checked
# before `rm -rf`: absolute, no `.`/`..`/`//`, under one of these prefixes
# both as written and once symlinks are resolved, and no mount point inside
# (a bind mount of / or /dev under it would be emptied through it).
REMOVABLE_RE='^/(run|tmp|var/lib|var/cache)/dockspec-[^/]+(/.+)?$'

# check_dockspec_path PATH: die unless PATH is one of ours by its name alone
# (also before unmounting what is under it: a DOCKSPEC_*_DIR of "" or "/"
# would otherwise take every mount of the host with it).
check_dockspec_path() {
  local p=$1 r
  case $p in
    '' | /) die "refusing '$p'" ;;
    /*) ;;
    *) die "refusing '$p': not an absolute path" ;;
  esac
  case "$p/" in
    *//* | */./* | */../*) die "refusing '$p': not a normalized path" ;;
  esac
  r=$(realpath -m -- "$p") || die "refusing '$p': realpath failed"
  [[ $p =~ $REMOVABLE_RE ]] || die "refusing '$p': outside /run, /tmp, /var/lib, /var/cache's dockspec-* directories"
  [[ $r =~ $REMOVABLE_RE ]] || die "refusing '$p': it resolves to '$r', outside the dockspec-* directories"
}

# check_removable PATH: check_dockspec_path, and no file system mounted inside.
check_removable() {
  local p=$1 r
  check_dockspec_path "$p"
  r=$(realpath -m -- "$p")
  if findmnt -rn -o TARGET | awk -v p="$r" 'index($0, p "/") == 1 || $0 == p {found = 1} END {exit !found}'; then
    die "refusing to remove '$p': a file system is mounted inside it"
  fi
}

# safe_rm_rf PATH...: rm -rf --one-file-system, after check_removable.
safe_rm_rf() {
  local p
  for p in "$@"; do check_removable "$p"; done
  rm -rf --one-file-system -- "$@"
}

# ---------------------------------------------------------------- a bed's daemons
# Shared by daemons.sh and engines.sh: the three daemons of a bed, their
# sockets (DOCKER_SOCK, PODMAN_SOCK, RL_SOCK), the rootless user's ids, the
# containers.conf both write, and the env keys both write.
DAEMONS=(docker podman podman-rootless)

rootless_ids() {
  RL_UID=$(id -u "$RL_USER")
  RL_GID=$(id -g "$RL_USER")
  RL_HOME=$(getent passwd "$RL_USER" | cut -d: -f6)
  RL_XDG=/run/user/$RL_UID
  RL_SOCK=$RL_XDG/podman/podman.sock
}

sock_of() {
  case $1 in
    docker) echo "$DOCKER_SOCK" ;;
    podman) echo "$PODMAN_SOCK" ;;
    podman-rootless) echo "$RL_SOCK" ;;
  esac
}

# [containers] and [engine] of containers.conf (rootful and rootless alike).
ENGINE_CONF='[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'

# The env file's keys every bed writes (STATE, the sockets, the pids in
# STATE, the rootless user's ids): a test's conftest reads either bed's.
env_common() {
  cat <<EOF
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
}

# ---------------------------------------------------------------- the container set
json_str() {  # minimal JSON string escaping (names, ids, messages)
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/ }; s=${s//$'\r'/ }; s=${s//$'\n'/ }
  printf '"%s"' "$s"
}

# DAEMON_TABLE rows: daemon|prefix|port base|image.
daemon_field() {  # DAEMON FIELD-NUMBER
  local row d
  for row in "${DAEMON_TABLE[@]}"; do
    IFS='|' read -r d _ <<<"$row"
    [ "$d" = "$1" ] && { cut -d'|' -f"$2" <<<"$row"; return 0; }
  done
  die "no daemon '$1' in DAEMON_TABLE"
}
prefix_of() { daemon_field "$1" 2; }
base_of() { daemon_field "$1" 3; }
image_of() { daemon_field "$1" 4; }

# DEFS: the lines of containers.txt that run on DAEMON of this BED.
container_defs() {  # DAEMON -> lines on stdout
  local d=$1 line suffix kind on rest tok
  while IFS= read -r line; do
    case $line in '' | '#'*) continue ;; esac
    IFS='|' read -r suffix kind on rest <<<"$line"
    if [ "$on" != '*' ]; then
      local hit=0
      for tok in $on; do [ "$tok" = "$BED/$d" ] && hit=1; done
      [ $hit = 1 ] || continue
    fi
    printf '%s\n' "$line"
  done <"$CONTAINERS_TXT"
}

pub_arg() {  # DAEMON PUB -> the -p value
  local base ip off cnt cport proto hp spec
  base=$(base_of "$1")
  IFS=';' read -r ip off cnt cport proto <<<"$2"
  hp=$((base + off))
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
  local d=$1 def=$2 suffix kind on net labels pubs cmd name state want
  IFS='|' read -r suffix kind on net labels pubs cmd <<<"$def"
  name=$(prefix_of "$d")-$suffix
  want=running; [ "$kind" = create ] && want=created
  state=$(container_state "$d" "$name")
  if [ "$state" = "$want" ]; then return 0; fi
  if [ "$want" = running ] && [ -n "$state" ] && [ "$state" != created ] && [ "$state" != configured ]; then
    log "$d: starting stopped $name (was $state)"
    if eng "$d" start "$name" >/dev/null 2>>"$STATE/errors.log"; then return 0; fi
  fi
  [ -n "$state" ] && eng "$d" rm -f "$name" >/dev/null 2>&1 || true
  local args=(--name "$name") p l lab=()
  IFS=, read -r -a lab <<<"$labels"
  for l in "${lab[@]}"; do args+=(--label "$l"); done
  if [ "$net" = host ]; then
    p=${pubs%% *}
    local base ip off cnt cport proto
    base=$(base_of "$d")
    IFS=';' read -r ip off cnt cport proto <<<"$p"
    args+=(--network host -e "PORT=$((base + off))")
  else
    if [ -n "$net" ]; then
      # A network of the daemon's own, made here when missing.
      eng "$d" network inspect "$net" >/dev/null 2>&1 || {
        log "$d: network create $net"
        eng "$d" network create "$net" >/dev/null
      }
      args+=(--network "$net")
    fi
    for p in $pubs; do args+=(-p "$(pub_arg "$d" "$p")"); done
  fi
  local verb=(run -d) out rc=0
  [ "$kind" = create ] && verb=(create)
  log "$d: ${verb[*]} $name ${args[*]:2}"
  out=$(eng "$d" "${verb[@]}" "${args[@]}" "$(image_of "$d")" sh -c "$cmd" 2>&1) || rc=$?
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

ensure_containers() {  # every container of every daemon
  local d def defs
  for d in "${DAEMONS[@]}"; do
    mapfile -t defs < <(container_defs "$d")
    for def in "${defs[@]}"; do ensure_container "$d" "$def"; done
  done
}

remove_containers() {  # DAEMON: rm -f our names on it
  local d=$1 def defs suffix name
  mapfile -t defs < <(container_defs "$d")
  for def in "${defs[@]}"; do
    IFS='|' read -r suffix _ <<<"$def"
    name=$(prefix_of "$d")-$suffix
    if eng "$d" inspect -f '{{.Id}}' "$name" >/dev/null 2>&1; then
      log "$d: removing $name"
      eng "$d" rm -f "$name" >/dev/null 2>&1 || log "$d: could not remove $name"
    fi
  done
}

# $STATE/containers.json (what tests expect) and $STATE/refused.json.
write_containers_json() {
  local out=$STATE/containers.json.tmp first=1 d def defs suffix kind on net labels pubs cmd name id p
  {
    echo '['
    for d in "${DAEMONS[@]}"; do
      mapfile -t defs < <(container_defs "$d")
      for def in "${defs[@]}"; do
        IFS='|' read -r suffix kind on net labels pubs cmd <<<"$def"
        name=$(prefix_of "$d")-$suffix
        id=$(eng "$d" inspect -f '{{.Id}}' "$name" 2>/dev/null) || continue
        [ $first = 1 ] || echo ','
        first=0
        local want=running; [ "$kind" = create ] && want=created
        printf '  {"daemon": "%s", "name": "%s", "id": "%s", "state": "%s", "image": "%s", "socket": "%s",\n' \
          "$d" "$name" "$id" "$want" "$(image_of "$d")" "$(sock_of "$d")"
        if [ -z "$labels" ]; then
          printf '   "labels": {},\n'
        else
          local lj=() l lab=()
          IFS=, read -r -a lab <<<"$labels"
          for l in "${lab[@]}"; do lj+=("$(json_str "${l%%=*}"): $(json_str "${l#*=}")"); done
          printf '   "labels": {%s},\n' "$(IFS=,; echo "${lj[*]}" | sed 's/,/, /g')"
        fi
        [ -n "$net" ] && printf '   "network": "%s",\n' "$net"
        local pa=() pj=() ip off cnt cport proto i base ipj
        base=$(base_of "$d")
        for p in $pubs; do
          [ "$net" = host ] || pa+=("\"$(pub_arg "$d" "$p")\"")
          IFS=';' read -r ip off cnt cport proto <<<"$p"
          [ "$net" = host ] && cport=$((base + off))
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
