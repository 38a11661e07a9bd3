#!/usr/bin/env bash
# run.sh: the two-command demo. Builds the provider and the catalog portal,
# starts the provider in development mode (in memory, demo client and
# citizen) on http://127.0.0.1:8080 and the catalog on http://127.0.0.1:8081,
# prints the catalog's URL first, and stops both on Ctrl-C (or when either
# exits).
set -euo pipefail

GO="${GO:-go}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(mktemp -d)"
pids=()
cleanup() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$bin"
}
trap cleanup INT TERM EXIT

echo "run.sh: building the provider and the catalog..." >&2
(cd "$root" && "$GO" build -o "$bin/" ./cmd/idp ./cmd/catalog)

cat <<MSG

  ==> Catalog portal: http://127.0.0.1:8081   <- open this in a browser
      Provider:       http://127.0.0.1:8080   (development mode, in memory)
      Demo citizens:  +7 999 000-00-01 (standard), -02 (simplified), -03 (confirmed);
                      password demo-password; operator console /operator (demo)
      Ctrl-C stops both.

MSG

"$bin/idp" serve --dev &
pids+=($!)
CATALOG_DEV=true "$bin/catalog" &
pids+=($!)

# Wait for either to exit (or for Ctrl-C), then stop the other.
wait -n "${pids[@]}" || true
