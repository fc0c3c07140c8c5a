#!/usr/bin/env bash
# The services + packages test bed of the systemctl and pkg tool groups
# (tests/_support/services.ts, docs/security/services.md).
#
#   .ci/testbed_services.sh [clean] [setup] [status] [clean-packages]   (no argument: clean setup)
#
# setup:  idempotent, safe to run concurrently (flock), fast when nothing changed.
#   - Debian packages: systemd (only for its journald, journalctl, systemd-cat and
#     systemd-tmpfiles; systemd is never started as PID 1), dpkg-dev, python3, sudo,
#     openssh-server. Debian's `systemctl` package is NEVER installed (it would remove
#     systemd): `apt-get download systemctl` + `dpkg-deb -x` give the systemctl-compatible
#     Python script, patched for the gaps listed in patch_systemctl() and run with
#     --root=$BED/root, so units, enable links, masks and state stay out of /etc/systemd.
#     $BED/bin/systemctl is the wrapper the test hosts find first on their PATH.
#   - journald standalone (volatile storage drop-in in /run/systemd/journald.conf.d/),
#     readable by group systemd-journal.
#   - a local apt repository ($BED/repo/{stable,updates}, packages built here with
#     dpkg-deb, indexed with dpkg-scanpackages) and two private apt views
#     ($BED/apt/{stable,updates}/apt.conf, for APT_CONFIG): own sources, lists, cache and
#     auto-install marks, so upgrade/autoremove can only ever touch the test packages;
#     dpkg's database and locks are the machine's real ones.
#   - users: sshmcpsvc (reads; group systemd-journal; a password and a sudo rule that
#     needs it, for the per-host sudo opt-in), sshmcpsvc0 (uid 0 login, for mutations
#     without sudo, the reference set-up).
# clean:  purges the test packages (sshmcp-test-*) and their holds, recovers an
#         interrupted dpkg first, stops every unit of the test root and removes the
#         units tests left behind. CI runs it before setup, so a run removes what the
#         previous run left.
# clean-packages: only the package part of clean (tests use it under their apt lock).
# status: KEY=VALUE facts of the bed; exit 1 when journald is not running.
#
# Needs root. Safe on a fresh Debian 12 machine.
set -euo pipefail

BED=/var/lib/sshmcp-services
ROOT="$BED/root"
LOCK=/run/lock/sshmcp-services.lock
STAMP="$BED/.stamp"
PACKAGES=(systemd dpkg-dev python3 sudo openssh-server openssh-client xz-utils procps)
SVC_USER=sshmcpsvc
ROOT_USER=sshmcpsvc0
SUDOERS=/etc/sudoers.d/sshmcp-services-test
PASSWORD_FILE="$BED/secrets/sudo-password"
SLOW_FLAG="$BED/slow-postinst"
PATH_LINE="$BED/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

log() { echo "testbed_services: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }
mkdir -p /run/lock
exec 9>"$LOCK"
flock 9

SELF_HASH=$(sha256sum "$0" | cut -c1-16)

journald_running() { pgrep -x systemd-journal >/dev/null 2>&1; }

do_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if dpkg -s systemctl >/dev/null 2>&1; then
    log "Debian's systemctl package is installed (it replaces systemd); refusing to go on"
    exit 1
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The systemctl-compatible script, patched for the gaps that matter to the tests.
patch_systemctl() { # in out
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
src = open(sys.argv[1]).read()
def sub(old, new, count=1):
    global src
    n = src.count(old)
    if n != count:
        sys.exit("systemctl patch: anchor found %d times (want %d): %r" % (n, count, old[:70]))
    src = src.replace(old, new)
# 1. is-active / is-failed answer "unknown" for units that are not enabled
sub('                if enabled != "enabled": active = "unknown"\n', '', 2)
# 2. show --property=A,B (comma lists, as systemd)
sub('                    if self._unit_property != var:\n',
    '                    if var not in self._unit_property.split(","):\n')
# 3. starting or restarting a masked unit must fail (sortedAfter silently drops masked units)
MASKED = '''        for unit in units:
            _conf = self.load_unit_conf(unit)
            if _conf is not None and _conf.masked:
                logg.error("Failed to VERB %s: Unit %s is masked.", unit, unit)
                done = False
'''
sub('''        done = True
        started_units = []
        for unit in self.sortedAfter(units):''',
'''        done = True
        started_units = []
''' + MASKED.replace("VERB", "start") + '''        for unit in self.sortedAfter(units):''')
sub('''        done = True
        for unit in self.sortedAfter(units):
            if not self.restart_unit(unit):''',
'''        done = True
''' + MASKED.replace("VERB", "restart") + '''        for unit in self.sortedAfter(units):
            if not self.restart_unit(unit):''')
# 4. cat prints the "# <path>" header line
sub('''            if unit_file:
                return open(unit_file).read()''',
'''            if unit_file:
                return "# " + unit_file + "\\n" + open(unit_file).read()''')
# 5. list-units honours --type (this implementation lists service units only)
sub('''        result = self.list_service_units(*modules)
        if self._no_legend:''',
'''        result = self.list_service_units(*modules) if self._unit_type in (None, "", "service") else []
        if self._no_legend:''')
# 6. service output reaches journald, attributed to the unit: the process joins the
#    unit's cgroup (systemd's hierarchy is the unified one on this hybrid set-up) and
#    its stdout/stderr become a journal stream
sub('''        try:
            if "spawn" in COVERAGE:
                os.spawnvpe(os.P_WAIT, cmd[0], cmd, env)''',
'''        try:
            unitname = os.path.basename(conf.filename() or "") or (conf.name() or "default")
            for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
                if os.path.exists(base + "/cgroup.procs"):
                    cg = base + "/system.slice/" + unitname
                    try:
                        if not os.path.isdir(cg): os.makedirs(cg)
                        open(cg + "/cgroup.procs", "w").write(str(os.getpid()))
                    except Exception as e:
                        logg.warning("cgroup %s: %s", cg, e)
                    break
            cmd = ["/usr/bin/systemd-cat", "-t", unitname.rsplit(".", 1)[0], "--"] + list(cmd)
            if "spawn" in COVERAGE:
                os.spawnvpe(os.P_WAIT, cmd[0], cmd, env)''')
open(sys.argv[2], "w").write(src)
PY
}

# Programs the test units run (ExecStart=$BED/libexec/<name> ...): unit files carry no `$`,
# which this systemctl implementation does not expand like systemd.
setup_helpers() {
  mkdir -p "$BED/libexec"
  cat >"$BED/libexec/ticker" <<'TICKER'
#!/bin/sh
# ticker NAME [SECONDS]: a long-running service that logs a line per tick
name=${1:-ticker}
echo "$name: listening on 127.0.0.1:8080"
i=0
while :; do
  i=$((i + 1))
  echo "$name: tick $i"
  sleep "${2:-2}"
done
TICKER
  cat >"$BED/libexec/failer" <<'FAILER'
#!/bin/sh
# failer NAME [CONFIG]: a service that fails at start-up while its config file is missing
name=${1:-failer}
conf=${2:-/etc/$name.conf}
echo "$name: reading $conf"
if [ ! -r "$conf" ]; then
  echo "$name: fatal: $conf: No such file or directory" >&2
  exit 3
fi
echo "$name: configuration ok"
exec sleep 100000
FAILER
  chmod 0755 "$BED/libexec/ticker" "$BED/libexec/failer"
}

setup_systemctl() {
  mkdir -p "$BED/cache" "$BED/bin" "$BED/emptybin" "$ROOT/lib/systemd/system" "$ROOT/etc/systemd/system"
  local deb
  deb=$(ls "$BED"/cache/systemctl_*_all.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$BED/cache" && { apt-get download systemctl >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null && apt-get download systemctl >/dev/null 2>&1
    }; })
    deb=$(ls "$BED"/cache/systemctl_*_all.deb | head -n1)
  fi
  rm -rf "$BED/cache/x"
  dpkg-deb -x "$deb" "$BED/cache/x"
  patch_systemctl "$BED/cache/x/usr/bin/systemctl" "$BED/systemctl.py.tmp"
  mv "$BED/systemctl.py.tmp" "$BED/systemctl.py"
  cat >"$BED/bin/systemctl.tmp" <<EOF
#!/bin/sh
# systemctl-compatible test implementation (.ci/testbed_services.sh); state in $ROOT
# SSHMCP_SYSTEMCTL_ARGV_LOG (set by test hosts): append the arguments, to check the argv
if [ -n "\${SSHMCP_SYSTEMCTL_ARGV_LOG:-}" ]; then
  printf '%s\n' "\$*" >>"\$SSHMCP_SYSTEMCTL_ARGV_LOG" 2>/dev/null || true
fi
exec /usr/bin/python3 $BED/systemctl.py --root=$ROOT "\$@"
EOF
  chmod 0755 "$BED/bin/systemctl.tmp"
  mv "$BED/bin/systemctl.tmp" "$BED/bin/systemctl"
}

start_journald() {
  mkdir -p /run/systemd/journald.conf.d
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=64M\nRateLimitBurst=0\n' \
    >/run/systemd/journald.conf.d/sshmcp-services-test.conf
  if ! journald_running; then
    log "starting systemd-journald (standalone)"
    # never pass it arguments: the first one is taken as a journal namespace
    setsid /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 9>&- &
    local i
    for i in $(seq 1 100); do
      [ -S /run/systemd/journal/stdout ] && ls /run/log/journal/*/system.journal >/dev/null 2>&1 && break
      sleep 0.05
    done
  fi
  systemd-tmpfiles --create --prefix /run/log/journal >/dev/null 2>&1 || true
}

sudoers_text() {
  cat <<EOF
# ssh-mcp services test bed (.ci/testbed_services.sh); safe to delete
Defaults:$SVC_USER !requiretty, timestamp_timeout=0, env_keep += "APT_CONFIG", secure_path="$PATH_LINE"
$SVC_USER ALL=(root) ALL
EOF
}

ensure_users() {
  local fresh=0
  if ! id "$SVC_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$SVC_USER"
    fresh=1
  fi
  id -nG "$SVC_USER" | tr ' ' '\n' | grep -qx systemd-journal || usermod -a -G systemd-journal "$SVC_USER"
  if ! id "$ROOT_USER" >/dev/null 2>&1; then
    useradd -o -u 0 -g 0 -M -d "$BED/home0" -s /bin/sh "$ROOT_USER"
    usermod -p '*' "$ROOT_USER"
  fi
  mkdir -p "$BED/home0" "$BED/secrets"
  chmod 0700 "$BED/secrets" "$BED/home0"
  if [ ! -s "$PASSWORD_FILE" ]; then
    local pw
    pw="S$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    printf '%s' "$pw" >"$PASSWORD_FILE.tmp"
    chmod 0600 "$PASSWORD_FILE.tmp"
    mv "$PASSWORD_FILE.tmp" "$PASSWORD_FILE"
    fresh=1
  fi
  if [ "$fresh" = 1 ] || [ ! -e "$PASSWORD_FILE.applied" ]; then
    printf '%s:%s\n' "$SVC_USER" "$(cat "$PASSWORD_FILE")" | chpasswd
    : >"$PASSWORD_FILE.applied"
  fi
  [ "$(cat "$SUDOERS" 2>/dev/null || true)" = "$(sudoers_text)" ] && return 0
  local tmp="$SUDOERS.tmp"
  sudoers_text >"$tmp"
  chmod 0440 "$tmp"
  visudo -cf "$tmp" >/dev/null
  mv "$tmp" "$SUDOERS"
}

# build_pkg DIR NAME VERSION [control lines...] -- reads extra files from env
build_pkg() {
  local dest=$1 name=$2 ver=$3
  shift 3
  local d
  d=$(mktemp -d)
  mkdir -p "$d/DEBIAN" "$d/usr/share/sshmcp-test"
  printf '%s %s\n' "$name" "$ver" >"$d/usr/share/sshmcp-test/$name.version"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: ssh-mcp tests <tests@invalid>\n' "$name" "$ver"
    printf 'Section: misc\nPriority: optional\n'
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$d/DEBIAN/control"
  case "$name" in
    sshmcp-test-conf)
      mkdir -p "$d/etc"
      printf '# sshmcp-test-conf %s default configuration\nlevel = %s\n' "$ver" "$ver" >"$d/etc/sshmcp-test-conf.conf"
      printf '/etc/sshmcp-test-conf.conf\n' >"$d/DEBIAN/conffiles"
      ;;
    sshmcp-test-slow)
      cat >"$d/DEBIAN/postinst" <<EOF
#!/bin/sh
set -e
if [ "\$1" = configure ] && [ -e $SLOW_FLAG ]; then
  echo "sshmcp-test-slow: waiting while $SLOW_FLAG exists"
  i=0
  while [ -e $SLOW_FLAG ] && [ \$i -lt 1200 ]; do sleep 0.25; i=\$((i+1)); done
fi
exit 0
EOF
      chmod 0755 "$d/DEBIAN/postinst"
      ;;
  esac
  dpkg-deb --root-owner-group -Zgzip -b "$d" "$dest/${name}_${ver}_all.deb" >/dev/null
  rm -rf "$d"
}

setup_repo() {
  local r="$BED/repo"
  rm -rf "$r.tmp"
  mkdir -p "$r.tmp/stable" "$r.tmp/updates"
  local desc1="Description: ssh-mcp test package (hello)"
  local descn=(" A package built by the ssh-mcp test bed." " ." " It installs one version file under /usr/share/sshmcp-test.")
  build_pkg "$r.tmp/stable" sshmcp-test-libdep 1.0 \
    "Description: ssh-mcp test library (dependency)" " Pulled in automatically by sshmcp-test-hello."
  build_pkg "$r.tmp/stable" sshmcp-test-hello 1.0 "Depends: sshmcp-test-libdep (>= 1.0)" \
    "Suggests: sshmcp-test-conf" "$desc1" "${descn[@]}"
  build_pkg "$r.tmp/updates" sshmcp-test-hello 2.0 "Depends: sshmcp-test-libdep (>= 1.0)" \
    "Recommends: sshmcp-test-extra-missing" "Suggests: sshmcp-test-conf" \
    "Conflicts: sshmcp-test-legacy" "Breaks: sshmcp-test-old (<< 1.0)" \
    "Replaces: sshmcp-test-old" "$desc1" "${descn[@]}"
  build_pkg "$r.tmp/stable" sshmcp-test-conf 1.0 \
    "Description: ssh-mcp test package with a conffile" " Ships /etc/sshmcp-test-conf.conf."
  build_pkg "$r.tmp/updates" sshmcp-test-conf 2.0 \
    "Description: ssh-mcp test package with a conffile" " Ships /etc/sshmcp-test-conf.conf."
  build_pkg "$r.tmp/stable" sshmcp-test-slow 1.0 \
    "Description: ssh-mcp test package with a slow postinst" \
    " Its postinst waits while $SLOW_FLAG exists (cancellation tests)."
  local s
  for s in stable updates; do
    (cd "$r.tmp/$s" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null && gzip -9kn Packages &&
      xz -9k Packages)
  done
  rm -rf "$r"
  mv "$r.tmp" "$r"
}

setup_apt_views() {
  local a="$BED/apt" v
  mkdir -p "$a/empty.d"
  : >"$a/empty.conf"
  [ -e "$a/extended_states" ] || : >"$a/extended_states"
  for v in stable updates; do
    mkdir -p "$a/$v/lists/partial" "$a/$v/cache/archives/partial"
    {
      echo "deb [trusted=yes] file:$BED/repo/stable ./"
      [ "$v" = updates ] && echo "deb [trusted=yes] file:$BED/repo/updates ./"
      true
    } >"$a/$v/sources.list"
    cat >"$a/$v/apt.conf" <<EOF
// private apt view of the ssh-mcp services test bed ($v); use with APT_CONFIG
Dir::Etc::SourceList "$a/$v/sources.list";
Dir::Etc::SourceParts "$a/empty.d";
Dir::Etc::Parts "$a/empty.d";
Dir::Etc::Main "$a/empty.conf";
Dir::Etc::Preferences "$a/empty.conf";
Dir::Etc::PreferencesParts "$a/empty.d";
Dir::State::Lists "$a/$v/lists";
Dir::State::extended_states "$a/extended_states";
Dir::Cache "$a/$v/cache";
Acquire::Languages "none";
APT::Sandbox::User "root";
APT::Install-Recommends "false";
EOF
    APT_CONFIG="$a/$v/apt.conf" apt-get update -qq >/dev/null 2>&1 ||
      APT_CONFIG="$a/$v/apt.conf" apt-get update
  done
  chmod -R a+rX "$a" "$BED/repo"
}

do_setup() {
  do_install
  mkdir -p "$BED"
  chmod 0755 "$BED"
  if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$SELF_HASH" ] || [ ! -x "$BED/bin/systemctl" ] ||
    [ ! -f "$BED/apt/updates/apt.conf" ] || [ ! -f "$BED/repo/stable/Packages" ]; then
    log "building the test bed in $BED"
    setup_helpers
    setup_systemctl
    setup_repo
    setup_apt_views
    echo "$SELF_HASH" >"$STAMP"
  fi
  ensure_users
  start_journald
  chmod 0755 "$BED" "$BED/bin" "$BED/root"
}

do_clean_packages() {
  # an interrupted dpkg (a cancelled test) first: the slow postinst returns at once now
  rm -f "$SLOW_FLAG"
  local pkgs
  pkgs=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 'sshmcp-test-*' 2>/dev/null |
    awk '$1 !~ /^un/ && $1 !~ /^pn/ {print $2}' || true)
  if [ -n "$pkgs" ]; then
    log "purging leftover test packages: $(echo $pkgs)"
    export DEBIAN_FRONTEND=noninteractive
    dpkg --configure -a >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    apt-mark unhold $pkgs >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    dpkg --purge $pkgs >/dev/null 2>&1 || dpkg --purge --force-all $pkgs >/dev/null
  fi
  [ -e "$BED/apt/extended_states" ] && : >"$BED/apt/extended_states"
  true
}

do_clean_units() {
  if [ -x "$BED/bin/systemctl" ]; then
    local u
    for u in $("$BED/bin/systemctl" list-units --no-legend --no-pager --type=service 2>/dev/null |
      awk '$3 == "active" || $3 == "failed" {print $1}'); do
      "$BED/bin/systemctl" stop -- "$u" >/dev/null 2>&1 || true
    done
    find "$ROOT/lib/systemd/system" "$ROOT/etc/systemd/system" -name 'sshmcp-*' \
      \( -type f -o -type l \) -delete 2>/dev/null || true
    rm -rf "$ROOT/var"
  fi
  local cg
  for cg in /sys/fs/cgroup/unified/system.slice/sshmcp-* /sys/fs/cgroup/system.slice/sshmcp-*; do
    [ -d "$cg" ] && rmdir "$cg" 2>/dev/null || true
  done
}

do_status() {
  echo "BED=$BED"
  echo "SYSTEMCTL_ROOT=$ROOT"
  echo "UNIT_DIR=$ROOT/lib/systemd/system"
  echo "BIN=$BED/bin"
  echo "LIBEXEC=$BED/libexec"
  echo "EMPTY_BIN=$BED/emptybin"
  echo "PATH_LINE=$PATH_LINE"
  echo "APT_STABLE=$BED/apt/stable/apt.conf"
  echo "APT_UPDATES=$BED/apt/updates/apt.conf"
  echo "SVC_USER=$SVC_USER"
  echo "ROOT_USER=$ROOT_USER"
  echo "PASSWORD_FILE=$PASSWORD_FILE"
  echo "SLOW_FLAG=$SLOW_FLAG"
  echo "STAMP=$(cat "$STAMP" 2>/dev/null || echo none)"
  if journald_running; then echo "JOURNALD=running"; else echo "JOURNALD=stopped"; return 1; fi
}

[ $# -gt 0 ] || set -- clean setup
for cmd in "$@"; do
  case "$cmd" in
    setup) do_setup ;;
    clean) do_clean_packages; do_clean_units ;;
    clean-packages) do_clean_packages ;;
    status) do_status ;;
    *) log "unknown command $cmd (use clean, setup, status, clean-packages)"; exit 2 ;;
  esac
done
