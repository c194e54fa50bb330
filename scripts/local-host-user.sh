#!/bin/sh
# Run inside a local test host as root, fed on standard input by
# playbooks/local_hosts.yml (`podman exec -i HOST /bin/sh -s -- USER KEY`):
# waits for systemd to finish booting, makes the unprivileged login user with
# passwordless sudo and the controller's public key, and starts sshd.
# Prints two lines: "state=changed" (or "state=ok", so that a second run of
# the playbook reports changed=0) and "hostkey=<this host's ed25519 key>".
set -eu
user=$1
key=$2
changed=

state=$(timeout 90 systemctl is-system-running --wait || true)
if [ "$state" != running ]; then
  echo "systemd is '$state', not running; failed units:" >&2
  systemctl --failed --no-legend >&2 || true
  exit 1
fi

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
  changed=1
fi
home=$(getent passwd "$user" | cut -d: -f6)

if [ "$(stat -c '%a %U' "$home/.ssh" 2>/dev/null || true)" != "700 $user" ]; then
  install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
  changed=1
fi
keys=$home/.ssh/authorized_keys
if [ "$(cat "$keys" 2>/dev/null || true)" != "$key" ] ||
   [ "$(stat -c '%a %U' "$keys")" != "600 $user" ]; then
  printf '%s\n' "$key" > "$keys.new"
  chown "$user:$user" "$keys.new"
  chmod 0600 "$keys.new"
  mv "$keys.new" "$keys"
  changed=1
fi

sudoers=/etc/sudoers.d/$user
rule="$user ALL=(ALL) NOPASSWD: ALL"
if [ "$(cat "$sudoers" 2>/dev/null || true)" != "$rule" ]; then
  printf '%s\n' "$rule" > "$sudoers.new"
  chmod 0440 "$sudoers.new"
  visudo -cqf "$sudoers.new"
  mv "$sudoers.new" "$sudoers"
  changed=1
fi

if ! systemctl is-enabled --quiet ssh.service || ! systemctl is-active --quiet ssh.service; then
  systemctl enable --now --quiet ssh.service
  changed=1
fi

if [ -n "$changed" ]; then echo state=changed; else echo state=ok; fi
echo "hostkey=$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)"
