#!/bin/bash
# Start, inspect and stop the extra real components the discovery tests
# (tests/integration/test_discovery_live.py) talk to, next to the daemons of
# scripts/daemons.sh:
#
#   - a SECOND dockerd listening with --tlsverify on tcp://127.0.0.1:23761
#     (its own data root, exec root, pid file and unix socket; no iptables;
#     vfs storage; its own empty bridge dsdisc0, made here: --bridge=none would
#     make dockerd delete the host's docker0, the FIRST daemon's bridge, as
#     moby's configureNetworking calls removeDefaultBridgeInterface() then),
#     with certificates made here by openssl: a CA,
#     a server certificate for 127.0.0.1/localhost, a client certificate, and
#     an unrelated CA (for the wrong-CA test);
#   - an sshd from Debian's openssh-server on 127.0.0.1:22220 (its own config,
#     host key, authorized key and pid file), reached as the ssh host alias
#     `dockspec-sshd` (an ssh_config.d snippet names the key and known_hosts),
#     through which `docker system dial-stdio` reaches the real Docker daemon.
#
#   scripts/discovery.sh up       install what is missing (openssh-server), make keys, start both
#   scripts/discovery.sh status   exit 0 iff both answer
#   scripts/discovery.sh down     stop both (by recorded pid), remove what up wrote
#
# Debian 12, as root, no systemd. Writes $STATE/env for the tests.
set -euo pipefail

STATE=${DOCKSPEC_DISCOVERY_DIR:-/run/dockspec-discovery}
DATA=${DOCKSPEC_DISCOVERY_DATA:-/var/lib/dockspec-discovery}
DAEMONS_STATE=${DOCKSPEC_STATE_DIR:-/run/dockspec-daemons}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=discovery.sh
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"
TLS_PORT=${DOCKSPEC_TLS_PORT:-23761}
SSH_PORT=${DOCKSPEC_SSH_PORT:-22220}
SSH_ALIAS=dockspec-sshd
SSH_SNIPPET=/etc/ssh/ssh_config.d/dockspec-discovery.conf
BRIDGE=dsdisc0
BRIDGE_ADDR=${DOCKSPEC_DISCOVERY_BRIDGE_ADDR:-10.213.213.1/24}
PING_TIMEOUT=${DOCKSPEC_PING_TIMEOUT:-60}

export PATH=$STD_PATH${PATH:+:$PATH}
export DEBIAN_FRONTEND=noninteractive
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG DOCKER_TLS_VERIFY DOCKER_CERT_PATH CONTAINER_HOST CONTAINER_CONNECTION

TLS_SOCK=$STATE/docker.sock
TLS_DIR=$STATE/tls
SSH_DIR=$STATE/ssh

ping_tls_sock() { ping_sock "$TLS_SOCK"; }
ping_tls_tcp() {
  curl -sf -m 3 --cacert "$TLS_DIR/client/ca.pem" --cert "$TLS_DIR/client/cert.pem" --key "$TLS_DIR/client/key.pem" \
    "https://127.0.0.1:$TLS_PORT/_ping" >/dev/null 2>&1
}
ping_ssh() {
  timeout 10 ssh -o BatchMode=yes -T "$SSH_ALIAS" -- true >/dev/null 2>&1
}

install_packages() { install_missing openssh-server openssh-client openssl curl; }

# ---------------------------------------------------------------- certificates
make_certs() {
  [ -s "$TLS_DIR/client/key.pem" ] && [ -s "$TLS_DIR/wrong-ca/ca.pem" ] && return
  log "making certificates in $TLS_DIR"
  safe_rm_rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"/{server,client,client-nocert,wrong-ca}
  chmod 700 "$TLS_DIR"
  local d=$TLS_DIR
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dockspec test CA" \
    -keyout "$d/ca-key.pem" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server/key.pem" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial -days 30 \
    -extfile "$d/server.ext" -out "$d/server/cert.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=dockspec client" -keyout "$d/client/key.pem" -out "$d/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial -days 30 \
    -extfile "$d/client.ext" -out "$d/client/cert.pem" 2>/dev/null
  cp "$d/ca.pem" "$d/client/ca.pem"
  cp "$d/ca.pem" "$d/server/ca.pem"
  cp "$d/ca.pem" "$d/client-nocert/ca.pem"
  # An unrelated CA: the daemon's certificate does not chain to it.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dockspec wrong CA" \
    -keyout "$d/wrong-ca/ca-key.pem" -out "$d/wrong-ca/ca.pem" 2>/dev/null
  rm -f "$d/wrong-ca/ca-key.pem"
  cp "$d/client/cert.pem" "$d/client/key.pem" "$d/wrong-ca/"
  rm -f "$d"/*.csr "$d"/*.ext "$d"/*.srl
}

# ---------------------------------------------------------------- TLS dockerd
start_tls_dockerd() {
  if our_pid "$STATE/dockerd.pid" "$STATE/docker-exec" >/dev/null && ping_tls_sock; then
    log "TLS dockerd already running"
    return
  fi
  if ss -ltn "sport = :$TLS_PORT" | grep -q LISTEN; then
    die "something not started by discovery.sh listens on 127.0.0.1:$TLS_PORT"
  fi
  mkdir -p "$DATA/docker" "$STATE/docker-exec"
  echo '{}' >"$STATE/daemon.json"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDR" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    touch "$STATE/bridge.ours"
  fi
  log "starting the TLS dockerd on tcp://127.0.0.1:$TLS_PORT (and unix://$TLS_SOCK)"
  start_bg "$STATE/dockerd.pid" "$STATE/dockerd.log" dockerd \
    --config-file "$STATE/daemon.json" \
    --data-root "$DATA/docker" --exec-root "$STATE/docker-exec" --pidfile "$STATE/dockerd.daemon.pid" \
    -H "unix://$TLS_SOCK" -H "tcp://127.0.0.1:$TLS_PORT" \
    --tlsverify --tlscacert "$TLS_DIR/server/ca.pem" --tlscert "$TLS_DIR/server/cert.pem" --tlskey "$TLS_DIR/server/key.pem" \
    --bridge="$BRIDGE" --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --storage-driver vfs
  wait_ping "the TLS dockerd" "$STATE/dockerd.pid" "$STATE/dockerd.log" --unix-socket "$TLS_SOCK" http://d/_ping
  ping_tls_tcp || { tail -n 40 "$STATE/dockerd.log" >&2; die "the TLS dockerd does not answer TLS on $TLS_PORT"; }
}

# One container, so a listing over TLS has something to show: no network
# (the daemon has no bridge), no ports.
start_tls_container() {
  local dk=(docker -H "unix://$TLS_SOCK")
  if ! "${dk[@]}" image inspect bb:latest >/dev/null 2>&1; then
    local tar=$DAEMONS_STATE/bb-rootfs.tar
    if [ ! -s "$tar" ]; then
      tar=$STATE/bb-rootfs.tar
      [ -s "$tar" ] || bash "$HERE/rootfs.sh" "$tar"
    fi
    "${dk[@]}" import --change 'CMD ["/bin/serve"]' "$tar" bb:latest >/dev/null
  fi
  if [ "$("${dk[@]}" inspect -f '{{.State.Running}}' dst-tls 2>/dev/null || true)" != true ]; then
    "${dk[@]}" rm -f dst-tls >/dev/null 2>&1 || true
    "${dk[@]}" run -d --name dst-tls --network none --label dockspec.test=discovery bb:latest \
      sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null
  fi
}

# ---------------------------------------------------------------- sshd
start_sshd() {
  mkdir -p "$SSH_DIR"
  chmod 700 "$SSH_DIR"
  [ -s "$SSH_DIR/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "dockspec sshd host" -f "$SSH_DIR/host_ed25519"
  [ -s "$SSH_DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "dockspec client" -f "$SSH_DIR/client_ed25519"
  cp "$SSH_DIR/client_ed25519.pub" "$SSH_DIR/authorized_keys"
  chmod 600 "$SSH_DIR/authorized_keys"
  printf '%s %s\n' "$SSH_ALIAS" "$(cut -d' ' -f1,2 "$SSH_DIR/host_ed25519.pub")" >"$SSH_DIR/known_hosts"
  cat >"$SSH_DIR/sshd_config" <<EOF
# Written by dockspec scripts/discovery.sh
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_ed25519
PidFile $STATE/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
PrintMotd no
LogLevel VERBOSE
EOF
  # The host alias the tests use: ssh://dockspec-sshd (user and port here) and
  # ssh://root@dockspec-sshd-bare:$SSH_PORT (user and port from the URL).
  mkdir -p "$(dirname "$SSH_SNIPPET")"
  cat >"$SSH_SNIPPET" <<EOF
# Written by dockspec scripts/discovery.sh up; removed by discovery.sh down.
Host $SSH_ALIAS
    Port $SSH_PORT
    User root
Host $SSH_ALIAS $SSH_ALIAS-bare
    HostName 127.0.0.1
    HostKeyAlias $SSH_ALIAS
    CheckHostIP no
    IdentityFile $SSH_DIR/client_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $SSH_DIR/known_hosts
    StrictHostKeyChecking yes
EOF
  if our_pid "$STATE/sshd.pid" "$SSH_DIR/sshd_config" >/dev/null && ping_ssh; then
    log "sshd already running"
    return
  fi
  if ss -ltn "sport = :$SSH_PORT" | grep -q LISTEN; then
    die "something not started by discovery.sh listens on 127.0.0.1:$SSH_PORT"
  fi
  mkdir -p /run/sshd
  chmod 755 /run/sshd
  /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd rejects its config"
  log "starting sshd on 127.0.0.1:$SSH_PORT"
  /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$STATE/sshd.log"
  local waited=0
  until ping_ssh; do
    [ $waited -ge 40 ] && { tail -n 40 "$STATE/sshd.log" >&2; die "sshd does not accept the client key"; }
    sleep 0.25; waited=$((waited + 1))
  done
}

write_env() {
  cat >"$STATE/env" <<EOF
# Written by scripts/discovery.sh up. Source it: . $STATE/env
DOCKSPEC_DISCOVERY_DIR=$STATE
DOCKSPEC_TLS_DOCKER_HOST=tcp://127.0.0.1:$TLS_PORT
DOCKSPEC_TLS_PORT=$TLS_PORT
DOCKSPEC_TLS_SOCK=$TLS_SOCK
DOCKSPEC_TLS_CLIENT_DIR=$TLS_DIR/client
DOCKSPEC_TLS_NOCERT_DIR=$TLS_DIR/client-nocert
DOCKSPEC_TLS_WRONG_CA_DIR=$TLS_DIR/wrong-ca
DOCKSPEC_TLS_DOCKERD_PID=$(cat "$STATE/dockerd.pid")
DOCKSPEC_TLS_CONTAINER=dst-tls
DOCKSPEC_SSH_ALIAS=$SSH_ALIAS
DOCKSPEC_SSH_BARE_ALIAS=$SSH_ALIAS-bare
DOCKSPEC_SSH_PORT=$SSH_PORT
DOCKSPEC_SSH_USER=root
DOCKSPEC_SSH_KEY=$SSH_DIR/client_ed25519
DOCKSPEC_SSH_KNOWN_HOSTS=$SSH_DIR/known_hosts
DOCKSPEC_SSHD_PID=$(tr -dc 0-9 <"$STATE/sshd.pid")
DOCKSPEC_SSH_DOCKER_SOCK=/var/run/docker.sock
EOF
}

up() {
  [ "$(id -u)" = 0 ] || die "run as root"
  mkdir -p "$STATE"
  chmod 755 "$STATE"
  install_packages
  make_certs
  start_tls_dockerd
  start_tls_container
  start_sshd
  write_env
  log "up: TLS dockerd pid $(cat "$STATE/dockerd.pid"), sshd pid $(tr -dc 0-9 <"$STATE/sshd.pid"); env in $STATE/env"
}

down() {
  # Checked first: the unmount loop below takes every mount under these.
  check_dockspec_path "$STATE"
  check_dockspec_path "$DATA"
  if our_pid "$STATE/dockerd.pid" "$STATE/docker-exec" >/dev/null; then
    docker -H "unix://$TLS_SOCK" rm -f dst-tls >/dev/null 2>&1 || true
  fi
  stop_pid "TLS dockerd" "$STATE/dockerd.pid" "$STATE/docker-exec"
  stop_pid sshd "$STATE/sshd.pid" "$SSH_DIR/sshd_config"
  rm -f "$SSH_SNIPPET"
  if [ -e "$STATE/bridge.ours" ] && ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE"
  fi
  # Mounts a killed TLS dockerd left behind (its netns files, its vfs root):
  # detach them, deepest first, so the directories can go.
  local m
  for m in $(findmnt -rn -o TARGET | grep -E "^($STATE|$DATA)/" | sort -r); do
    umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done
  safe_rm_rf "$STATE" "$DATA"
  log "down"
}

status() {
  local rc=0
  if pid=$(our_pid "$STATE/dockerd.pid" "$STATE/docker-exec") && ping_tls_tcp; then
    echo "TLS dockerd: pid $pid, answers TLS on 127.0.0.1:$TLS_PORT"
  else
    echo "TLS dockerd: not answering"; rc=1
  fi
  if pid=$(our_pid "$STATE/sshd.pid" "$SSH_DIR/sshd_config") && ping_ssh; then
    echo "sshd: pid $pid, accepts $SSH_ALIAS on 127.0.0.1:$SSH_PORT"
  else
    echo "sshd: not answering"; rc=1
  fi
  return $rc
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|status|down" >&2; exit 2 ;;
esac
