#!/usr/bin/env bash
# chromium.sh: install Debian's chromium (for the browser tests, which drive
# /usr/bin/chromium through chromedp) and libnss3-tools (certutil, pk12util:
# the client-certificate browser test fills an NSS database with them)
# unless they are already there. Silent when they are.
set -euo pipefail

[ -x /usr/bin/chromium ] && command -v pk12util >/dev/null 2>&1 && exit 0

say() { echo "chromium.sh: $*" >&2; }
command -v apt-get >/dev/null 2>&1 || { say "/usr/bin/chromium missing and apt-get not available: install chromium by hand"; exit 1; }
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { say "need root (or sudo) to install chromium"; exit 1; }
	sudo=(sudo)
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
say "installing chromium and libnss3-tools with apt-get"
"${sudo[@]}" apt-get update >"$out" 2>&1 || { cat "$out" >&2; say "apt-get update failed"; exit 1; }
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium libnss3-tools >"$out" 2>&1 ||
	{ cat "$out" >&2; say "apt-get install chromium libnss3-tools failed"; exit 1; }
[ -x /usr/bin/chromium ] || { say "chromium installed but /usr/bin/chromium is missing"; exit 1; }
