#!/usr/bin/env bash
# Installs the pinned real Claude Code CLI for the offline agent tests and prints the absolute
# path of its native Linux binary on stdout (the only stdout line; progress goes to stderr).
# Cached: a no-op when the pinned version is already installed in .cache/claude-code.
# Tests find the binary there (or via LOOPAT_TEST_CLAUDE_BIN), see internal/testkit/claude.go.
set -euo pipefail
version="${LOOPAT_CLAUDE_CODE_VERSION:-2.1.328}"
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
prefix="$root/.cache/claude-code"
pkg="$prefix/node_modules/@anthropic-ai/claude-code"
native="$prefix/node_modules/@anthropic-ai/claude-code-linux-x64"

installed_version() {
  [ -f "$pkg/package.json" ] || return 0
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -1
}

# find_binary prints the executable ELF file of the native package (its layout is not a
# documented contract, so look instead of hard-coding a path).
find_binary() {
  [ -d "$native" ] || return 0
  local f
  while IFS= read -r f; do
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
      printf '%s\n' "$f"
      return 0
    fi
  done < <(find "$native" -type f -perm -u+x | sort)
}

if [ "$(installed_version)" != "$version" ] || [ -z "$(find_binary)" ]; then
  command -v npm >/dev/null || { echo "claude-cli: npm is missing (install nodejs and npm)" >&2; exit 1; }
  # Corporate TLS proxies: npm (node) must trust the host's extra CAs, which Debian keeps in
  # /usr/local/share/ca-certificates. Bundle them on top of the system store.
  shopt -s nullglob
  extra=(/usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt)
  shopt -u nullglob
  if [ "${#extra[@]}" -gt 0 ]; then
    bundle="$(mktemp /tmp/loopat-npm-ca.XXXXXX.pem)"
    trap 'rm -f "$bundle"' EXIT
    if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
      cat "$NODE_EXTRA_CA_CERTS" >>"$bundle"
    fi
    cat "${extra[@]}" >>"$bundle"
    export NODE_EXTRA_CA_CERTS="$bundle"
  fi
  echo "claude-cli: installing @anthropic-ai/claude-code@$version into $prefix" >&2
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || printf '{"name":"loopat-test-claude-code","private":true}\n' >"$prefix/package.json"
  npm install --prefix "$prefix" --save-exact --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$version" >&2
fi

bin="$(find_binary)"
if [ -z "$bin" ]; then
  echo "claude-cli: no native Linux binary found under $native" >&2
  exit 1
fi
got="$(installed_version)"
if [ "$got" != "$version" ]; then
  echo "claude-cli: installed version is '$got', want $version" >&2
  exit 1
fi
printf '%s\n' "$bin"
