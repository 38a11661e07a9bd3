#!/usr/bin/env bash
# fuzz.sh: run every fuzz target of the module (func FuzzXxx in a _test.go
# file) alone, for FUZZTIME each (default 3s), with FUZZ_FLAGS added to
# `go test`. Stops at the first failure.
#
# One failure is not the target's: with a duration -fuzztime, Go's fuzzing
# coordinator before Go 1.27 may report a bare "context deadline exceeded"
# as the time runs out, having found nothing (golang/go#75804: the deadline
# is seen before the workers' context is cancelled). That answer, and only
# that one (no failing input written, no message from the target, no
# panic), is run once more; if it comes again it is reported and let pass:
# the target did fuzz for its time and found nothing. Every other failure
# fails.
set -uo pipefail

readonly FUZZTIME="${FUZZTIME:-3s}"
readonly GO="${GO:-go}"
read -r -a flags <<<"${FUZZ_FLAGS:-}"

cd "$(dirname "$0")/.."

# deadline_flake reports whether the output of a failed run is the
# coordinator's deadline race and nothing else.
deadline_flake() {
	local out=$1 name=$2
	grep -qx -- "--- FAIL: $name ([0-9.]*s)" <<<"$out" || return 1
	grep -qx -- "    context deadline exceeded" <<<"$out" || return 1
	# Nothing else in the failure report.
	[[ $(sed -n "/^--- FAIL: $name /,/^FAIL\$/p" <<<"$out" | grep -cvE "^(--- FAIL: $name |    context deadline exceeded\$|FAIL\$)") == 0 ]] || return 1
	! grep -qE "Failing input written|failure while testing seed corpus|^panic:|_test\.go:[0-9]+:" <<<"$out"
}

run() {
	local dir=$1 name=$2 out status
	out=$("$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "${flags[@]}" "$dir" 2>&1)
	status=$?
	printf '%s\n' "$out"
	if ((status != 0)) && deadline_flake "$out" "$name"; then
		return 2
	fi
	return "$status"
}

targets=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for name in $(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$file"); do
		targets=$((targets + 1))
		echo "fuzz $dir $name ($FUZZTIME)"
		run "$dir" "$name"
		status=$?
		if ((status == 2)); then
			echo "fuzz.sh: $name: \"context deadline exceeded\" as the fuzz time ran out, nothing found (golang/go#75804); once more"
			run "$dir" "$name"
			status=$?
			if ((status == 2)); then
				echo "fuzz.sh: $name: the deadline race again; nothing found, let pass"
				status=0
			fi
		fi
		if ((status != 0)); then
			echo "fuzz.sh: $name in $dir failed" >&2
			exit 1
		fi
	done
done < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' . | sort)

if ((targets == 0)); then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi
echo "fuzz.sh: $targets fuzz targets, $FUZZTIME each"
