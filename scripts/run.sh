#!/usr/bin/env bash
# run.sh: the two-command demo. Builds the provider and the catalog portal,
# starts the provider in development mode (in memory, demo client and
# citizen) on http://127.0.0.1:8080, a second provider playing a bank
# (--bank-sim) on http://localhost:8090 (another host name, so that the two
# do not share cookies), and the catalog on http://127.0.0.1:8081; prints
# the catalog's URL first, and stops all three on Ctrl-C (or when one
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
      Bank simulator: http://localhost:8090   ("Войти через банк" on the login page:
                      +7 999 000-00-01 links Иван Иванов and confirms him,
                      +7 999 000-00-11 registers Пётр Банков; password demo-password)
      Ctrl-C stops all three.

MSG

bank_issuer="http://localhost:8090"
IDP_ISSUER="$bank_issuer" IDP_LISTEN=127.0.0.1:8090 IDP_BANK_SIM=true \
	IDP_BANK_SIM_REDIRECT_URI=http://127.0.0.1:8080/login/bank/callback "$bin/idp" serve --dev >/dev/null &
pids+=($!)
IDP_BANKS='[{"id":"sim","name_ru":"Банк-симулятор","name_en":"Bank simulator","issuer":"'"$bank_issuer"'","client_id":"idp-bank-sim","client_secret":"bank-sim-secret-for-development-only","identifies_in_person":true}]' \
	"$bin/idp" serve --dev &
pids+=($!)
CATALOG_DEV=true "$bin/catalog" &
pids+=($!)

# Wait for either to exit (or for Ctrl-C), then stop the other.
wait -n "${pids[@]}" || true
