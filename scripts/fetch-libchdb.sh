#!/usr/bin/env bash
# Fetches libchdb (embedded ClickHouse) from the npm registry into a cache
# outside the repository:  scripts/fetch-libchdb.sh VERSION DEST_DIR
# npm checks the tarball's integrity against the registry.
set -euo pipefail
version=${1:?version}
dest=${2:?destination dir}
if [ -f "$dest/libchdb.so" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "fetch libchdb: npm is not installed (apt-get install npm)" >&2
		exit 1
	fi
	echo "installing npm ..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q npm >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q npm >/dev/null; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching libchdb $version (~180 MB) into $dest ..." >&2
(cd "$tmp" && npm pack --silent "@chdb/lib-linux-x64-gnu@$version" >/dev/null)
tar -xzf "$tmp"/chdb-lib-linux-x64-gnu-*.tgz -C "$tmp" package/libchdb.so
mkdir -p "$dest"
mv "$tmp/package/libchdb.so" "$dest/libchdb.so.partial"
mv "$dest/libchdb.so.partial" "$dest/libchdb.so"
echo "libchdb $version ready: $dest/libchdb.so" >&2
