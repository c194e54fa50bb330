#!/usr/bin/env bash
# Build the base image of the local test hosts and of molecule's containers:
# a Debian 12 root file system made by debootstrap from Debian's packages (no
# registry is needed), imported into podman.
#
# The image is generic, like a fresh minimal VM: systemd as PID 1, python3
# (for Ansible), sudo, openssh-server (enabled; unused by molecule's podman
# connection), ca-certificates. Everything a role needs it installs itself.
#
# Reused while an image with this recipe version exists: bump IMAGE_VERSION
# whenever the recipe below changes, and the next `make image` rebuilds.
#
# Usage: scripts/build-image.sh [--force]
set -euo pipefail

IMAGE=${FLASKBENCH_IMAGE:-localhost/flaskbench-base:bookworm}
IMAGE_VERSION=1
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
INCLUDE=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,openssh-server,ca-certificates,iproute2,procps,less
LABEL=org.flaskbench.image-version

log() { printf 'image: %s\n' "$*"; }

if [ "${1:-}" != --force ] && podman image exists "$IMAGE"; then
  have=$(podman image inspect --format "{{ index .Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$IMAGE_VERSION" ]; then
    log "$IMAGE exists (recipe $IMAGE_VERSION), reused"
    exit 0
  fi
  log "$IMAGE has recipe '${have:-none}', want $IMAGE_VERSION: rebuilding"
fi

work=$(mktemp -d /var/tmp/flaskbench-rootfs.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs=$work/rootfs

log "debootstrap $SUITE from $MIRROR (about a minute)"
start=$SECONDS
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" \
  > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
log "debootstrap done in $((SECONDS - start)) s"

# Apt sources as on a stock Debian 12: release, updates, security.
rm -f "$rootfs/etc/apt/sources.list"
cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Each container gets its own identity at first boot: an empty machine-id
# makes systemd generate one, and SSH host keys are made before sshd starts.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$rootfs/var/lib/dbus/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat > "$rootfs/etc/systemd/system/ssh.service.d/host-keys.conf" <<'UNIT'
# Generate this host's SSH keys on first start (the image ships none).
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT

# Units that only make sense on hardware or a console.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
            systemd-modules-load.service sys-kernel-config.mount \
            systemd-remount-fs.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done

# No stale package lists in the image: hosts run apt-get update themselves.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log

log "importing as $IMAGE"
tar -C "$rootfs" --numeric-owner -c . | podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL $LABEL=$IMAGE_VERSION" \
  --message "flaskbench base image, recipe $IMAGE_VERSION" \
  --quiet - "$IMAGE" >/dev/null
log "built $IMAGE in $((SECONDS - start)) s"
