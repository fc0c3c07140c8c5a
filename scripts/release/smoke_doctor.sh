#!/bin/sh
# Release smoke test (Linux/macOS): `ssh-mcp doctor --json` against a throw-away sshd.
#
#   sh scripts/release/smoke_doctor.sh <ssh-mcp command> [args...]
#
# Generates a host key and a client key, starts `sshd -D -f <cfg>` as the current user on
# 127.0.0.1:$SMOKE_SSHD_PORT (default 2222; UsePAM no, StrictModes no), writes hosts.toml and
# known_hosts, runs `<command> doctor --json` and asserts exit 0 and "ok": true. On Linux,
# sshd wants its privilege separation directory (/run/sshd) to exist.
# Env: SSHD (default /usr/sbin/sshd), SMOKE_SSHD_PORT.
set -eu
[ $# -ge 1 ] || { echo "usage: smoke_doctor.sh <ssh-mcp command> [args...]" >&2; exit 2; }
sshd_bin="${SSHD:-/usr/sbin/sshd}"
port="${SMOKE_SSHD_PORT:-2222}"
[ -x "$sshd_bin" ] || { echo "doctor smoke: $sshd_bin not found (install openssh-server)" >&2; exit 1; }

dir=$(mktemp -d 2>/dev/null || mktemp -d -t ssh-mcp-smoke)
dir=$(cd "$dir" && pwd -P)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

user=$(id -un)
ssh-keygen -q -t ed25519 -N '' -C smoke-host -f "$dir/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C smoke-client -f "$dir/id_ed25519"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $user
PidFile $dir/sshd.pid
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
"$sshd_bin" -t -f "$dir/sshd_config"
"$sshd_bin" -D -f "$dir/sshd_config" -E "$dir/sshd.log" &
pid=$!

# wait until it answers (ssh-keyscan fails until sshd listens)
i=0
until ssh-keyscan -T 2 -p "$port" 127.0.0.1 >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 30 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "doctor smoke: sshd did not start" >&2
    cat "$dir/sshd.log" >&2 || true
    exit 1
  fi
  sleep 1
done

printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
cat >"$dir/hosts.toml" <<EOF
[hosts.smoke]
hostname = "127.0.0.1"
port = $port
user = "$user"

[hosts.smoke.auth]
method = "key"
key = "$dir/id_ed25519"
EOF

rc=0
(
  cd "$dir" &&
    SSH_HOSTS_FILE="$dir/hosts.toml" SSH_KNOWN_HOSTS="$dir/known_hosts" \
      SSH_AUDIT_LOG="$dir/audit.jsonl" SSH_MCP_DISABLE_DOTENV=1 \
      "$@" doctor --json >"$dir/doctor.json"
) || rc=$?
if [ "$rc" -eq 0 ] && grep -q '^  "ok": true' "$dir/doctor.json"; then
  echo "doctor smoke: ok ($(grep -c '"status": "ok"' "$dir/doctor.json") checks ok against sshd on 127.0.0.1:$port)"
  exit 0
fi
echo "doctor smoke: FAILED (exit $rc)" >&2
cat "$dir/doctor.json" >&2 || true
tail -n 30 "$dir/sshd.log" >&2 || true
exit 1
