#!/bin/sh
# Builds the A/B probe (Benchmarks/ABProbe) against a revision of Agora and prints its path.
#
#   Benchmarks/track.sh probe REV     a commit (a git worktree under the track folder)
#   Benchmarks/track.sh probe         the working tree, uncommitted changes included
#   Benchmarks/track.sh same-sources BASE [HEAD]
#                                     exit 0 when the library sources (Sources, CBridge,
#                                     Package.swift) of the two sides are identical
#
# The probe is today's harness in both builds (as airspeed velocity runs today's benchmarks
# against old commits); each build has its own scratch path under $AGORA_TRACK_DIR (default
# ~/.cache/agora/track, outside the source tree), keyed by revision, flags, CPU and compiler, so a
# build made on another machine or toolchain is never reused. Flags: $AGORA_BUILD_FLAGS (the
# Makefile passes the same native flags as `make bench` to both sides).
set -eu
ROOT=$(git rev-parse --show-toplevel)
TRACK=${AGORA_TRACK_DIR:-${HOME:-/tmp}/.cache/agora/track}
FLAGS=${AGORA_BUILD_FLAGS-}
SWIFT=${SWIFT:-swift}
LIBRARY="Sources CBridge Package.swift"

resolve() {
  git -C "$ROOT" rev-parse --verify -q "$1^{commit}" || { echo "error: '$1' is not a commit of this repository" >&2; exit 2; }
}

case "${1:-}" in
same-sources)
  base=$(resolve "$2")
  if [ -n "${3:-}" ]; then
    git -C "$ROOT" diff --quiet "$base" "$(resolve "$3")" -- $LIBRARY
  else
    git -C "$ROOT" diff --quiet "$base" -- $LIBRARY && [ -z "$(git -C "$ROOT" status --porcelain -- $LIBRARY)" ]
  fi
  ;;
probe)
  machine=$( (grep -m1 'model name' /proc/cpuinfo; grep -m1 '^flags' /proc/cpuinfo; $SWIFT --version 2>&1 | head -1; echo "$FLAGS") | cksum | cut -d' ' -f1)
  if [ -n "${2:-}" ]; then
    sha=$(resolve "$2")
    src=$TRACK/src/$sha
    if [ "$(git -C "$src" rev-parse HEAD 2>/dev/null || true)" != "$sha" ]; then
      rm -rf "$src"; mkdir -p "$TRACK/src"
      git -C "$ROOT" worktree prune
      git -C "$ROOT" worktree add --detach "$src" "$sha" >&2
    fi
    key=$sha-$machine
  else
    src=$ROOT
    key=worktree-$(echo "$ROOT" | cksum | cut -d' ' -f1)-$machine
  fi
  [ -f "$src/Package.swift" ] || { echo "error: no Package.swift at $src" >&2; exit 2; }
  pkg=$TRACK/probe/$key
  mkdir -p "$pkg"
  cp -Rp "$ROOT/Benchmarks/ABProbe/." "$pkg/"
  echo "building the probe against ${2:-the working tree} ($src)" >&2
  # shellcheck disable=SC2086
  AGORA_CHECKOUT=$src $SWIFT build -c release --package-path "$pkg" --scratch-path "$TRACK/build/$key" $FLAGS >&2 || {
    echo "error: the probe does not build against ${2:-the working tree} (compiler output above; a revision older than the API the probe uses cannot be measured)" >&2; exit 2; }
  echo "$TRACK/build/$key/release/AgoraABProbe"
  ;;
*)
  echo "usage: $0 probe [REV] | same-sources BASE [HEAD]" >&2; exit 2 ;;
esac
