#!/bin/sh
# Installs the ssh-mcp binary for this machine (Linux or macOS, x86_64 or arm64) after
# verifying its SHA-256 against the release's SHA256SUMS.
#
#   curl -fsSL https://github.com/OWNER/REPO/releases/download/vX.Y.Z/install.sh | sh
#   sh install.sh [--version X.Y.Z]
#
# Environment:
#   SSH_MCP_VERSION   version to install (the copy attached to a release has it filled in)
#   SSH_MCP_REPO      GitHub owner/repo (likewise filled in on a release)
#   SSH_MCP_BASE_URL  download directory holding the binaries and SHA256SUMS; overrides
#                     https://github.com/$SSH_MCP_REPO/releases/download/v$SSH_MCP_VERSION
#   PREFIX            install prefix; the binary goes to $PREFIX/bin/ssh-mcp (default ~/.local)
#
# The script never uses sudo: it installs where the invoking user can write, and refuses
# (installing nothing) when the checksum does not match or no sha256 tool exists.
set -eu

# Filled in by .github/workflows/release.yml on the copy attached to a release.
DEFAULT_VERSION="__SSH_MCP_VERSION__"
DEFAULT_REPO="__SSH_MCP_REPO__"

say() { printf '%s\n' "install.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

version="${SSH_MCP_VERSION:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    -h | --help) sed -n '2,16p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
case "$version" in "") version="$DEFAULT_VERSION" ;; esac
version="${version#v}"
case "$version" in
  __*__ | "") die "no version given: set SSH_MCP_VERSION=X.Y.Z or pass --version X.Y.Z" ;;
esac
case "$version" in
  *[!0-9A-Za-z.-]*) die "invalid version: $version" ;;
esac

os=$(uname -s)
arch=$(uname -m)
case "$os" in
  Linux) sys="unknown-linux-gnu" ;;
  Darwin)
    sys="apple-darwin"
    # an x86_64 shell under Rosetta on Apple silicon still gets the native binary
    if [ "$arch" = "x86_64" ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = "1" ]; then
      arch="arm64"
    fi
    ;;
  *) die "unsupported OS $os (Windows: winget install ssh-mcp, or download the .exe from the release)" ;;
esac
case "$arch" in
  x86_64 | amd64) cpu="x86_64" ;;
  aarch64 | arm64) cpu="aarch64" ;;
  *) die "unsupported CPU architecture $arch" ;;
esac
if [ "$sys" = "unknown-linux-gnu" ] && ls /lib/ld-musl-* >/dev/null 2>&1 && ! ls /lib*/ld-linux* /lib/*/ld-linux* >/dev/null 2>&1; then
  say "warning: this looks like a musl system (Alpine); the binary needs glibc"
fi
file="ssh-mcp-${version}-${cpu}-${sys}"

if [ -n "${SSH_MCP_BASE_URL:-}" ]; then
  base="${SSH_MCP_BASE_URL%/}"
else
  repo="${SSH_MCP_REPO:-$DEFAULT_REPO}"
  case "$repo" in
    __*__ | "") die "no download location: set SSH_MCP_REPO=owner/repo or SSH_MCP_BASE_URL" ;;
  esac
  base="https://github.com/${repo}/releases/download/v${version}"
fi

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --proto '=https,http' -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
else
  die "refusing to install: neither sha256sum nor shasum is available to verify the download"
fi

prefix="${PREFIX:-$HOME/.local}"
bindir="${prefix%/}/bin"

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t ssh-mcp)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

say "downloading $base/$file"
fetch "$base/$file" "$tmp/$file" || die "download failed: $base/$file"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "download failed: $base/SHA256SUMS"

expected=$(awk -v f="$file" '$2 == f || $2 == "*" f { print tolower($1); exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || die "refusing to install: SHA256SUMS has no entry for $file"
actual=$(sha256 "$tmp/$file" | tr 'ABCDEF' 'abcdef')
if [ "$actual" != "$expected" ]; then
  die "refusing to install: checksum mismatch for $file (expected $expected, got $actual)"
fi
say "checksum ok ($actual)"

mkdir -p "$bindir" || die "cannot create $bindir (set PREFIX to a directory you can write)"
[ -w "$bindir" ] || die "$bindir is not writable (set PREFIX to a directory you can write; this script never uses sudo)"
staged="$bindir/.ssh-mcp.tmp.$$"
if ! { cp "$tmp/$file" "$staged" && chmod 0755 "$staged" && mv -f "$staged" "$bindir/ssh-mcp"; }; then
  rm -f "$staged"
  die "could not install to $bindir/ssh-mcp"
fi
say "installed ssh-mcp $version to $bindir/ssh-mcp"
case ":${PATH:-}:" in
  *":$bindir:"*) ;;
  *) say "note: $bindir is not on PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac
