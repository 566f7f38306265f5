#!/bin/bash
# A second real test bed: the newest engines Debian ships (the `forky` suite:
# Docker 28.5, Podman 5.8 with pasta, netavark, nftables, runc), run from a
# debootstrapped root file system beside the Debian 12 bed of
# scripts/daemons.sh, in the host's network and pid namespaces:
#
#   - Docker 28 (chroot), its own bridge br-d28, no iptables, vfs;
#   - rootful Podman 5 (chroot), runc, cgroupfs, its own bridge podman5 (10.99.0.0/16);
#   - rootless Podman 5 for the user dsengines (unshare --mount + pivot_root:
#     the kernel refuses user namespaces to a chrooted process), pasta.
#
#   scripts/engines.sh up       build or reuse ROOT, start, create the containers
#   scripts/engines.sh status   sockets, pids, versions, containers (exit 0 iff all answer)
#   scripts/engines.sh down     remove our containers, stop what we started, unmount ROOT
#
# The container set is scripts/containers.txt (bed `forky`), the same as
# daemons.sh's plus a host-network container on Docker and rootful Podman and
# a rootless one on a network of its own (rootlessport, not pasta, holds its port).
# Writes $STATE/env and $STATE/containers.json in daemons.sh's format.
# Debian 12, as root, no systemd. Facts and notes: scripts/README-engines.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=engines.sh
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"
BED=forky

STATE=${DOCKSPEC_ENGINES_STATE:-/run/dockspec-engines}   # pids, logs, sockets, env, containers.json
DATA=${DOCKSPEC_ENGINES_DATA:-/var/lib/dockspec-engines}   # the engines' storage (images kept by down)
CACHE=${DOCKSPEC_ENGINES_CACHE:-/var/cache/dockspec-forky}  # the debootstrapped ROOT, reused across runs
ROOT=$CACHE/root
SUITE=forky
RL_USER=${DOCKSPEC_ENGINES_USER:-dsengines}
BRIDGE=br-d28
BRIDGE_ADDR=172.31.0.1/24
PODMAN_SUBNET=10.99.0.0/16
PODMAN_GATEWAY=10.99.0.1
PODMAN_BRIDGE=podman5
DOCKER_SOCK=$STATE/docker.sock
DOCKER_TCP=tcp://127.0.0.1:23751
PODMAN_SOCK=$STATE/podman.sock
PING_TIMEOUT=${DOCKSPEC_PING_TIMEOUT:-60}

HOST_PACKAGES=(debootstrap busybox-static curl iproute2 util-linux)
# Installed into ROOT. Changing this list (or the suite or mirror) rebuilds ROOT.
ROOT_PACKAGES=(podman docker.io docker-cli passt runc uidmap iptables nftables containernetworking-plugins
               netavark aardvark-dns conmon catatonit curl procps iproute2 ca-certificates)

export PATH=$STD_PATH${PATH:+:$PATH}
export DEBIAN_FRONTEND=noninteractive
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG CONTAINER_HOST CONTAINER_CONNECTION \
      CONTAINERS_CONF CONTAINERS_STORAGE_CONF XDG_RUNTIME_DIR XDG_CONFIG_HOME XDG_DATA_HOME

# daemon|container name prefix|host port base|image. 68000 (one step past
# 58000) is no port: rootless takes 62000.
DAEMON_TABLE=(
  "docker|d28|48000|bb:latest"
  "podman|p5|58000|localhost/bb:latest"
  "podman-rootless|r5|62000|localhost/bb:latest"
)

# rl_argv CMD...: RL_ARGV = CMD as the rootless user inside ROOT, in a
# private mount namespace pivoted into ROOT (not chroot: the kernel refuses
# user namespaces to a chrooted process, "cannot clone: Operation not
# permitted"). unshare, sh, setpriv and env all exec: the pid is CMD's.
rl_argv() {
  RL_ARGV=(unshare --mount --propagation private -- /bin/sh -c '
      root=$1; shift
      mount --rbind "$root" "$root" && cd "$root" && pivot_root . oldroot && cd / && umount -l /oldroot || exit 125
      exec "$@"' sh "$ROOT"
    setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups
    env -i HOME="$RL_HOME" USER="$RL_USER" LOGNAME="$RL_USER" PATH="$STD_PATH"
    XDG_RUNTIME_DIR="$RL_XDG" PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$@")
}
in_root_as_user() { rl_argv "$@"; ( cd / && exec "${RL_ARGV[@]}" ); }

in_root() { ( cd / && exec chroot "$ROOT" env PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$@" ); }

# eng DAEMON ARGS... : the daemon's own CLI, forky's, inside ROOT.
eng() {
  local d=$1; shift
  case $d in
    docker) in_root docker -H "unix://$DOCKER_SOCK" "$@" ;;
    podman) in_root podman "$@" ;;
    podman-rootless) in_root_as_user podman "$@" ;;
  esac
}

# ---------------------------------------------------------------- mounts
is_mnt() { findmnt -rn -o TARGET | grep -qxF -- "$1"; }

mounts_under() {  # PATH: mount points at or under PATH, deepest first
  findmnt -rn -o TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1' | sort -r
}

# umount_under PATH: unmount everything at or under PATH, deepest first.
# Each mount is made private first, so no unmount propagates to the host's
# /sys or /dev (the rbinds are slaves anyway).
umount_under() {
  local p=$1 m i left
  for ((i = 0; i < 5; i++)); do
    left=$(mounts_under "$p")
    [ -z "$left" ] && return 0
    while IFS= read -r m; do
      mount --make-rprivate "$m" 2>/dev/null || true
      umount "$m" 2>/dev/null || { [ $i -ge 2 ] && umount -l "$m" 2>/dev/null; } || true
    done <<<"$left"
  done
  left=$(mounts_under "$p")
  [ -z "$left" ] || die "could not unmount under $p: $(echo "$left" | tr '\n' ' ')"
}

bind_dir() {  # SRC DST: bind SRC onto DST (made), unless DST is a mount point already
  mkdir -p "$2"
  is_mnt "$2" || mount --bind "$1" "$2"
}

# ROOT as a mount point with the kernel's trees, a tmpfs /run, and the paths
# shared with the host: $STATE (sockets, image tarball), the engines' storage,
# the rootless user's home and /run/user/UID (a tmpfs of ours on the host, so
# its API socket, netns files and runtime state sit at the standard host
# paths, and go when it is unmounted).
mount_bed() {
  is_mnt "$ROOT" || mount --bind "$ROOT" "$ROOT"
  mount --make-private "$ROOT"
  is_mnt "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  if ! is_mnt "$ROOT/sys"; then mount --rbind /sys "$ROOT/sys"; mount --make-rslave "$ROOT/sys"; fi
  if ! is_mnt "$ROOT/dev"; then mount --rbind /dev "$ROOT/dev"; mount --make-rslave "$ROOT/dev"; fi
  is_mnt "$ROOT/run" || mount -t tmpfs -o mode=755 dockspec-engines "$ROOT/run"
  bind_dir "$STATE" "$ROOT$STATE"
  bind_dir "$DATA/docker" "$ROOT/var/lib/docker"
  bind_dir "$DATA/containers" "$ROOT/var/lib/containers"
  bind_dir "$RL_HOME" "$ROOT$RL_HOME"
  mkdir -p "$RL_XDG"
  is_mnt "$RL_XDG" || mount -t tmpfs -o "mode=700,uid=$RL_UID,gid=$RL_GID" dockspec-engines-user "$RL_XDG"
  bind_dir "$RL_XDG" "$ROOT$RL_XDG"
  install -d -o "$RL_UID" -g "$RL_GID" -m 700 "$RL_XDG/podman"
}

umount_bed() {
  local n
  n=$(mounts_under "$ROOT" | wc -l)
  [ "$n" -gt 0 ] && log "unmounting the $n mounts under $ROOT"
  umount_under "$ROOT"
  if is_mnt "$RL_XDG" && [ "$(findmnt -n -o SOURCE "$RL_XDG")" = dockspec-engines-user ]; then
    umount "$RL_XDG" || umount -l "$RL_XDG"
  fi
}

# ---------------------------------------------------------------- ROOT
apt_mirror() {  # the Debian mirror of the machine's own apt sources
  local m
  m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

root_stamp() {
  printf '%s\n' "suite=$SUITE" "mirror=$(apt_mirror)" "variant=minbase" "${ROOT_PACKAGES[@]}" | sha256sum | cut -d' ' -f1
}

# ROOT is reused when it was built, completely, for the same suite, mirror
# and package list (the stamp is written last); else it is built afresh.
ensure_root() {
  local want new=$CACHE/root.new
  want=$(root_stamp)
  if [ -s "$CACHE/root.stamp" ] && [ "$(cat "$CACHE/root.stamp")" = "$want" ] && [ -x "$ROOT/usr/bin/podman" ]; then
    log "reusing $ROOT (package set unchanged)"
    return 0
  fi
  log "building $ROOT ($SUITE, minbase, from $(apt_mirror))"
  mkdir -p "$CACHE"
  rm -f "$CACHE/root.stamp"
  local d
  for d in "$ROOT" "$new"; do
    if [ -e "$d" ]; then umount_under "$d"; safe_rm_rf "$d"; fi
  done
  # bookworm's debootstrap has no forky script; sid's serves.
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$new" "$(apt_mirror)" \
    /usr/share/debootstrap/scripts/sid >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
  # The suite's Release file has expired on this machine's mirror.
  echo 'Acquire::Check-Valid-Until "false";' >"$new/etc/apt/apt.conf.d/99novalid"
  cp /etc/resolv.conf "$new/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
  chmod 755 "$new/usr/sbin/policy-rc.d"
  mount -t proc proc "$new/proc"
  local rc=0
  { chroot "$new" apt-get update -qq &&
    chroot "$new" apt-get install -y -qq --no-install-recommends "${ROOT_PACKAGES[@]}" &&
    chroot "$new" apt-get clean; } >"$CACHE/apt.log" 2>&1 || rc=$?
  umount_under "$new"
  [ $rc = 0 ] || { tail -n 30 "$CACHE/apt.log" >&2; die "apt-get in ROOT failed ($rc)"; }
  mkdir -p "$new/oldroot"
  mv "$new" "$ROOT"
  chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}\n' >"$CACHE/versions.txt"
  echo "$want" >"$CACHE/root.stamp"
  log "built $ROOT ($(du -sh "$ROOT" | cut -f1))"
}

# The rootless user: same name, uid, gid, home and subordinate ranges in ROOT
# as on the host; the engines' configuration.
configure_root() {
  local f line
  for f in passwd group shadow subuid subgid; do
    sed -i "/^$RL_USER:/d" "$ROOT/etc/$f"
  done
  echo "$RL_USER:x:$RL_UID:$RL_GID::$RL_HOME:/bin/sh" >>"$ROOT/etc/passwd"
  echo "$RL_USER:x:$RL_GID:" >>"$ROOT/etc/group"
  echo "$RL_USER:!:20000:0:99999:7:::" >>"$ROOT/etc/shadow"
  for f in subuid subgid; do
    line=$(grep "^$RL_USER:" "/etc/$f") || die "no /etc/$f range for $RL_USER"
    echo "$line" >>"$ROOT/etc/$f"
  done
  local conf
  conf="# Written by dockspec scripts/engines.sh. crun refuses cgroup v1 hybrid
# (\"cgroups in hybrid mode not supported\"); netavark needs nft.
$ENGINE_CONF"
  mkdir -p "$ROOT/etc/containers"
  printf '%s[network]\n# apart from Podman 4.3'"'"'s 10.88.0.0/16 on the Debian 12 bed\ndefault_subnet = "%s"\n' \
    "$conf" "$PODMAN_SUBNET" >"$ROOT/etc/containers/containers.conf"
  # The default network on a bridge of its own: on the shared podman0 of
  # Podman 4.3, Podman 5's gateway 10.99.0.1 was never on the bridge and no
  # published port answered (conmon held them; connections went nowhere).
  mkdir -p "$ROOT/etc/containers/networks"
  cat >"$ROOT/etc/containers/networks/podman.json" <<EOF
{
  "name": "podman",
  "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
  "driver": "bridge",
  "network_interface": "$PODMAN_BRIDGE",
  "created": "2026-12-01T00:00:00Z",
  "subnets": [{"subnet": "$PODMAN_SUBNET", "gateway": "$PODMAN_GATEWAY"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
EOF
  install -d -o "$RL_UID" -g "$RL_GID" -m 755 "$RL_HOME/.config" "$RL_HOME/.config/containers"
  printf '%s' "$conf" >"$RL_HOME/.config/containers/containers.conf"
  chown "$RL_UID:$RL_GID" "$RL_HOME/.config/containers/containers.conf"
}

# ---------------------------------------------------------------- processes
PAT_DOCKERD="dockerd -H unix://$DOCKER_SOCK"
PAT_PODMAN="podman system service --time=0 unix://$PODMAN_SOCK"
pat_rootless() { echo "podman system service --time=0 unix://$RL_SOCK"; }

all_ours_answer() {
  our_pid "$STATE/dockerd.pid" "$PAT_DOCKERD" >/dev/null && ping_sock "$DOCKER_SOCK" &&
  our_pid "$STATE/podman.pid" "$PAT_PODMAN" >/dev/null && ping_sock "$PODMAN_SOCK" &&
  our_pid "$STATE/podman-rootless.pid" "$(pat_rootless)" >/dev/null && ping_sock "$RL_SOCK"
}

# Processes left from our bed: those whose root is ROOT (chroot), and those
# of the rootless user (it is ours alone; pivot_root hides their root).
leftovers() {
  local p r
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    r=$(readlink "/proc/$p/root" 2>/dev/null) || continue
    case $r in "$ROOT" | "$ROOT"/*) echo "$p" ;; esac
  done
  pgrep -u "$RL_UID" || true
}

# Stop what is left of our processes, by pid: TERM, then KILL after 10 s.
reap_leftovers() {
  local pids i p
  mapfile -t pids < <(leftovers | sort -un | while read -r p; do alive "$p" && echo "$p"; done)
  [ ${#pids[@]} -eq 0 ] && return 0
  log "stopping leftover processes of the bed: $(ps -o pid=,comm= -p "$(IFS=,; echo "${pids[*]}")" | tr -s ' ' | tr '\n' ',')"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    mapfile -t pids < <(for p in "${pids[@]}"; do alive "$p" && echo "$p"; done)
    [ ${#pids[@]} -eq 0 ] && return 0
    sleep 0.2
  done
  log "SIGKILL ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.5
}

stop_processes() {
  stop_pid dockerd "$STATE/dockerd.pid" "$PAT_DOCKERD"
  stop_pid podman "$STATE/podman.pid" "$PAT_PODMAN" tree
  stop_pid podman-rootless "$STATE/podman-rootless.pid" "$(pat_rootless)" tree
  reap_leftovers
}

refuse_foreign() {  # SOCK PIDFILE PATTERN NAME
  if ping_sock "$1" && ! our_pid "$2" "$3" >/dev/null; then
    die "a daemon not started by this script answers on $1 ($4); stop it first"
  fi
}

start_docker() {
  if our_pid "$STATE/dockerd.pid" "$PAT_DOCKERD" >/dev/null && ping_sock "$DOCKER_SOCK"; then
    log "dockerd 28 already running (pid $(cat "$STATE/dockerd.pid"))"; return
  fi
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDR" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  rm -f "$DOCKER_SOCK"
  # Its own bridge and no iptables: two dockerds in one network namespace
  # would fight over docker0 and the DOCKER chains. docker-proxy forwards.
  start_bg "$STATE/dockerd.pid" "$STATE/dockerd.log" \
    chroot "$ROOT" dockerd -H "unix://$DOCKER_SOCK" -H "$DOCKER_TCP" \
      --data-root /var/lib/docker --exec-root /run/docker --pidfile /run/docker.pid \
      --storage-driver vfs -b "$BRIDGE" --iptables=false --ip6tables=false
  wait_ping "dockerd 28" "$STATE/dockerd.pid" "$STATE/dockerd.log" --unix-socket "$DOCKER_SOCK" http://d/_ping
}

start_podman() {
  if our_pid "$STATE/podman.pid" "$PAT_PODMAN" >/dev/null && ping_sock "$PODMAN_SOCK"; then
    log "rootful podman 5 already running (pid $(cat "$STATE/podman.pid"))"; return
  fi
  rm -f "$PODMAN_SOCK"
  start_bg "$STATE/podman.pid" "$STATE/podman.log" \
    chroot "$ROOT" env PODMAN_IGNORE_CGROUPSV1_WARNING=1 podman system service --time=0 "unix://$PODMAN_SOCK"
  wait_ping "rootful podman 5" "$STATE/podman.pid" "$STATE/podman.log" --unix-socket "$PODMAN_SOCK" http://d/_ping
}

start_podman_rootless() {
  if our_pid "$STATE/podman-rootless.pid" "$(pat_rootless)" >/dev/null && ping_sock "$RL_SOCK"; then
    log "rootless podman 5 already running (pid $(cat "$STATE/podman-rootless.pid"))"; return
  fi
  rm -f "$RL_SOCK"
  : >"$STATE/podman-rootless.log"; chown "$RL_UID:$RL_GID" "$STATE/podman-rootless.log"
  rl_argv podman system service --time=0 "unix://$RL_SOCK"
  start_bg "$STATE/podman-rootless.pid" "$STATE/podman-rootless.log" "${RL_ARGV[@]}"
  wait_ping "rootless podman 5" "$STATE/podman-rootless.pid" "$STATE/podman-rootless.log" --unix-socket "$RL_SOCK" http://d/_ping
}

ensure_images() {
  local tar=$STATE/bb-rootfs.tar d
  if [ ! -s "$tar" ]; then
    bash "$HERE/rootfs.sh" "$tar.tmp" && mv "$tar.tmp" "$tar"
    chmod 644 "$tar"
  fi
  if ! eng docker image inspect bb:latest >/dev/null 2>&1; then
    log "importing bb:latest into docker 28"
    eng docker import --change 'CMD ["/bin/serve"]' "$tar" bb:latest >/dev/null
  fi
  for d in podman podman-rootless; do
    if ! eng "$d" image exists localhost/bb:latest; then
      log "importing localhost/bb:latest into $d 5"
      eng "$d" import --change 'CMD=["/bin/serve"]' "$tar" localhost/bb:latest >/dev/null
    fi
  done
}

# $STATE/bin/{docker,podman,podman-rootless}: each engine's own CLI (forky's,
# inside ROOT), for tests and people: `/run/dockspec-engines/bin/podman-rootless ps`.
write_clis() {
  local d q
  mkdir -p "$STATE/bin"
  for d in "${DAEMONS[@]}"; do
    case $d in
      docker) q=$(printf '%q ' chroot "$ROOT" docker -H "unix://$DOCKER_SOCK") ;;
      podman) q=$(printf '%q ' chroot "$ROOT" env PODMAN_IGNORE_CGROUPSV1_WARNING=1 podman) ;;
      podman-rootless) rl_argv podman; unset 'RL_ARGV[${#RL_ARGV[@]}-1]'; q="$(printf '%q ' "${RL_ARGV[@]}") podman" ;;
    esac
    printf '#!/bin/bash\n# Written by scripts/engines.sh up: the CLI of the forky bed'"'"'s %s, run as its user runs it.\ncd / && exec %s "$@"\n' \
      "$d" "$q" >"$STATE/bin/$d"
    chmod 755 "$STATE/bin/$d"
  done
}

write_env() {
  local dv pv rv
  dv=$(curl -sf -m 5 --unix-socket "$DOCKER_SOCK" http://d/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1)
  pv=$(curl -sf -m 5 --unix-socket "$PODMAN_SOCK" http://d/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1)
  rv=$(curl -sf -m 5 --unix-socket "$RL_SOCK" http://d/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1)
  cat >"$STATE/env.tmp" <<EOF
# Written by scripts/engines.sh up. Source it: . $STATE/env
DOCKSPEC_BED=$BED
DOCKSPEC_ENGINES_ROOT=$ROOT
$(env_common)
DOCKSPEC_DOCKER_VERSION=$dv
DOCKSPEC_PODMAN_VERSION=$pv
DOCKSPEC_ROOTLESS_VERSION=$rv
DOCKSPEC_DOCKER_CLI=$STATE/bin/docker
DOCKSPEC_PODMAN_CLI=$STATE/bin/podman
DOCKSPEC_ROOTLESS_CLI=$STATE/bin/podman-rootless
EOF
  mv "$STATE/env.tmp" "$STATE/env"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root"
  local t0=$SECONDS
  install -d -m 755 "$STATE" "$DATA" "$DATA/docker" "$DATA/containers"
  install_missing "${HOST_PACKAGES[@]}"
  ensure_user "$RL_USER"
  rootless_ids
  open_tun
  if ! all_ours_answer; then
    refuse_foreign "$DOCKER_SOCK" "$STATE/dockerd.pid" "$PAT_DOCKERD" "docker"
    refuse_foreign "$PODMAN_SOCK" "$STATE/podman.pid" "$PAT_PODMAN" "podman"
    refuse_foreign "$RL_SOCK" "$STATE/podman-rootless.pid" "$(pat_rootless)" "rootless podman"
    # An earlier run was interrupted, or this is the first: whatever of ours
    # survived goes (processes by pid, then the mounts with the runtime
    # state in them), so every daemon starts on a fresh /run.
    stop_processes
    umount_bed
    # Podman 5's netavark keeps its port forwarding in the host's nftables
    # (table inet netavark): a killed bed leaves the DNAT rules to its dead
    # containers' addresses first in line. A reboot would have emptied it.
    if [ -x "$ROOT/usr/sbin/nft" ] && in_root nft list table inet netavark >/dev/null 2>&1; then
      log "deleting the nftables table inet netavark (Podman 5's, no process of it is left)"
      in_root nft delete table inet netavark
    fi
    ensure_root
    configure_root
    mount_bed
  fi
  start_docker
  start_podman
  start_podman_rootless
  ensure_images
  ensure_containers
  write_containers_json
  write_clis
  write_env
  log "up done in $((SECONDS - t0))s; env: $STATE/env, containers: $STATE/containers.json"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "run as root"
  local d have_rl=0
  id -u "$RL_USER" >/dev/null 2>&1 && { rootless_ids; have_rl=1; }
  if [ $have_rl = 1 ] && [ -x "$ROOT/usr/bin/podman" ]; then
    for d in "${DAEMONS[@]}"; do
      ping_sock "$(sock_of "$d")" && remove_containers "$d"
    done
    stop_processes
    umount_bed
  elif [ -d "$ROOT" ]; then
    umount_under "$ROOT"
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  rm -f "$STATE/env" "$STATE/containers.json" "$STATE/refused.json" "$DOCKER_SOCK" "$PODMAN_SOCK"
  [ -e "$STATE/bin" ] && safe_rm_rf "$STATE/bin"
  log "down done (ROOT in $CACHE, images in $DATA and the $RL_USER user are kept)"
}

cmd_status() {
  local ok=0 d sock pidf pat pid ping ver
  id -u "$RL_USER" >/dev/null 2>&1 && rootless_ids || RL_SOCK="(no user $RL_USER)"
  for d in "${DAEMONS[@]}"; do
    case $d in
      docker) pidf=$STATE/dockerd.pid; pat=$PAT_DOCKERD ;;
      podman) pidf=$STATE/podman.pid; pat=$PAT_PODMAN ;;
      podman-rootless) pidf=$STATE/podman-rootless.pid; pat=$(pat_rootless) ;;
    esac
    sock=$(sock_of "$d")
    pid=$(our_pid "$pidf" "$pat" || echo "-")
    if ping_sock "$sock"; then ping=yes; else ping=no; ok=1; fi
    ver=$(curl -sf -m 3 --unix-socket "$sock" http://d/version 2>/dev/null | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1 || true)
    echo "== $d  socket=$sock  pid=$pid  ping=$ping  version=${ver:--}"
    if [ $ping = yes ]; then
      eng "$d" ps -a --filter "name=^$(prefix_of "$d")-" --format '{{.Names}}  {{.Status}}  {{.Ports}}' 2>/dev/null | sed 's/^/   /' || true
    fi
  done
  return $ok
}

# Every mount under these is ours to unmount, and ROOT ours to delete.
for _p in "$STATE" "$DATA" "$CACHE"; do check_dockspec_path "$_p"; done

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
