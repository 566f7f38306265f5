#!/bin/bash
# Build a minimal root filesystem tarball for a registry-less image:
# /bin/busybox (from Debian's busybox-static) plus a symlink per applet,
# /bin/serve (a PID 1 that serves HTTP on port 80 and exits at once on
# SIGTERM) and /index.html (so GET / answers 200).
#
#   scripts/rootfs.sh OUT.tar
#
# Import with:  docker import --change 'CMD ["/bin/serve"]' OUT.tar bb:latest
#               podman import --change 'CMD=["/bin/serve"]' OUT.tar localhost/bb:latest
set -euo pipefail

out=${1:?usage: rootfs.sh OUT.tar}
bb=/bin/busybox
# Debian's busybox-static installs /bin/busybox; refuse a dynamically linked one.
case "$(LC_ALL=C ldd "$bb" 2>&1 || true)" in
  *"not a dynamic executable"*|*"statically linked"*) ;;
  *) echo "rootfs.sh: $bb is not statically linked (install busybox-static)" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,var/www}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$root/bin/$applet"
done
cat >"$root/bin/serve" <<'EOF'
#!/bin/sh
# PID 1 that stops at once on SIGTERM: httpd daemonizes, the loop sleeps.
trap "exit 0" TERM
httpd -p "${PORT:-80}"
while :; do sleep 1; done
EOF
chmod 755 "$root/bin/serve"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'ok\n' >"$root/index.html"
# Fixed owners and mtimes: the same busybox gives the same tarball.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
    -C "$root" -cf "$out" .
