#!/usr/bin/env bash
# Install the controller's host packages and make podman usable on this host.
#
# Idempotent and fast when done: apt runs only when a package is missing, and
# the podman drop-in is rewritten only when its content would change.
#
# Debian's nginx and PostgreSQL are installed for their binaries (the app's
# tests start their own instances); services that this script installs are
# never left running or enabled on the controller. chromium and its
# chromium-driver (same version, one source package) open report.html in the
# report's browser test (tests/benchreport/test_html.py).
set -euo pipefail

PACKAGES=(
  podman runc debootstrap openssh-client python3-venv
  apache2-utils wrk nginx postgresql ca-certificates git make
  chromium chromium-driver
)
# Services shipped by the packages above that must not run on the controller.
SERVICES=(nginx postgresql)

DROPIN_DIR=/etc/containers/containers.conf.d
DROPIN="$DROPIN_DIR/50-flaskbench.conf"

log() { printf 'deps: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: run as root (apt-get and /etc/containers need it)" >&2
  exit 1
fi

installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  # Remember which services were there before, so that only the ones this
  # run brings in get disabled (a controller's own nginx is left alone).
  new_services=()
  for s in "${SERVICES[@]}"; do
    installed "$s" || new_services+=("$s")
  done

  # Keep package scripts from starting services during the install.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup EXIT

  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null

  for s in "${new_services[@]}"; do
    if [ -d /run/systemd/system ]; then
      systemctl stop "$s.service" >/dev/null 2>&1 || true
    fi
    if command -v systemctl >/dev/null; then
      systemctl disable "$s.service" >/dev/null 2>&1 || true
    fi
    log "disabled $s.service on the controller (only its binaries are used)"
  done
else
  log "host packages present"
fi

# --- podman: OCI runtime and rlimits -------------------------------------
# crun refuses cgroups in hybrid (v1 + v2) mode; runc works there. Pure v1
# and pure v2 hosts keep podman's default runtime.
hybrid=""
if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] &&
   [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null || true)" = cgroup2fs ]; then
  hybrid=1
fi

# Without CAP_SYS_RESOURCE podman cannot raise a container's rlimits above
# the caller's hard limits (its defaults are higher): give it limits it may
# set. nofile at the caller's hard limit works; nproc must stay at or below
# 32768 (the caller's hard limit itself was refused on a build machine).
cap_sys_resource=""
capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
if (( (16#$capeff >> 24) & 1 )); then
  cap_sys_resource=1
fi

content=""
if [ -n "$hybrid" ]; then
  content+=$'[engine]\n# crun: "cgroups in hybrid mode not supported"\nruntime = "runc"\n'
fi
if [ -z "$cap_sys_resource" ]; then
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  nproc=$(ulimit -Hu)
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  content+=$'[containers]\n# no CAP_SYS_RESOURCE: podman may not raise rlimits past these\n'
  content+="default_ulimits = [\"nofile=${nofile}:${nofile}\", \"nproc=${nproc}:${nproc}\"]"$'\n'
fi

if [ -n "$content" ]; then
  content="# Written by flaskbench scripts/install-deps.sh for this host."$'\n'"$content"
  if [ ! -f "$DROPIN" ] || [ "$(cat "$DROPIN")"$'\n' != "$content" ]; then
    mkdir -p "$DROPIN_DIR"
    printf '%s' "$content" > "$DROPIN"
    chmod 0644 "$DROPIN"
    log "wrote $DROPIN"
  fi
elif [ -f "$DROPIN" ]; then
  rm -f "$DROPIN"
  log "removed $DROPIN (podman's defaults work on this host)"
fi

# Prove plain podman works (a broken runtime shows up here, not later).
podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null
log "podman ready (runtime: $(podman info --format '{{.Host.OCIRuntime.Name}}'))"
