#!/usr/bin/env bash
# Runs every fuzz target for TIME each: `make fuzz` (10m a target) and
# `make test` (a few seconds). Prints each target's last progress line, with
# how many inputs it ran; a crash fails the run and leaves the input under
# the package's testdata/fuzz/, where it becomes a seed.
set -euo pipefail
time=${1:-10m}
targets=(
	"./imports FuzzInventory"
	"./imports FuzzProjects"
	"./imports FuzzAllocations"
	"./imports FuzzSamples"
	"./collector FuzzParseDCGM"
	"./config FuzzParse"
	"./redact FuzzRedact"
	"./store/chdb FuzzNative"
)
status=0
for t in "${targets[@]}"; do
	set -- $t
	out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$time" -fuzzminimizetime 10s "$1" 2>&1) || status=1
	last=$(grep -E '^fuzz: elapsed' <<<"$out" | tail -n 1 || true)
	echo "$2 ($1, $time): ${last:-no progress line}"
	if [ $status -ne 0 ]; then
		echo "$out" | tail -n 20
		exit $status
	fi
done
