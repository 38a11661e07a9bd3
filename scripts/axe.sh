#!/usr/bin/env bash
# axe.sh: fetch axe-core (the accessibility engine the browser tests run in
# Chromium: e2e/axe_test.go) from the npm registry into .cache/axe unless
# it is already there. npm checks the package's integrity. Installs node
# and npm with apt-get when they are missing. Silent when there is nothing
# to do.
set -euo pipefail

version="4.14.1"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/axe/axe-core-$version.min.js"
[ -s "$dest" ] && exit 0

say() { echo "axe.sh: $*" >&2; }
if ! command -v npm >/dev/null 2>&1; then
	command -v apt-get >/dev/null 2>&1 || { say "npm missing and apt-get not available: install npm by hand"; exit 1; }
	sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	say "installing npm with apt-get"
	"${sudo[@]}" apt-get update >/dev/null 2>&1
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm >/dev/null 2>&1 ||
		{ say "apt-get install npm failed"; exit 1; }
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
say "fetching axe-core $version"
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null) || { say "npm pack axe-core@$version failed"; exit 1; }
tar -xzf "$tmp"/axe-core-"$version".tgz -C "$tmp" package/axe.min.js
mkdir -p "$(dirname "$dest")"
mv "$tmp/package/axe.min.js" "$dest"
