#!/usr/bin/env bash
# Fetches libchdb.so (the in-process ClickHouse engine used by the embedded
# mode and the tests) from the npm registry into a git-ignored cache, verifies
# the tarball's sha256 and prints the library's path. Idempotent: a verified
# copy is reused.
set -euo pipefail

version="26.7.3-stable.1"
sha256="c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LEADERBOARD_LIBCHDB_CACHE:-$root/.cache/chdb}"
lib="$cache/libchdb.so"
stamp="$cache/libchdb.so.$version.ok"

if [[ -f "$lib" && -f "$stamp" ]]; then
	echo "$lib"
	exit 0
fi
command -v npm >/dev/null || { echo "libchdb.sh: npm is needed to fetch @chdb/lib-linux-x64-gnu" >&2; exit 1; }

mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@chdb/lib-linux-x64-gnu@$version" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
got="$(sha256sum "$tarball" | cut -d' ' -f1)"
if [[ "$got" != "$sha256" ]]; then
	echo "libchdb.sh: sha256 mismatch for $tarball: got $got, want $sha256" >&2
	exit 1
fi
tar -xzf "$tarball" -C "$work" package/libchdb.so
mv "$work/package/libchdb.so" "$lib.tmp"
mv "$lib.tmp" "$lib"
touch "$stamp"
echo "$lib"
