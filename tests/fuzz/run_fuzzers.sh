#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the libFuzzer targets of a fuzz build (tests/fuzz/README.md), one after the other (the
# machines have 2 cores):
#   run_fuzzers.sh <build-fuzz> <seconds> [target...]
# For each target: first every input of tests/fuzz/corpus/<target>/ and of the tests/data files
# tests/fuzz/data_seeds.txt names for it once (the regression test:
# each input once, no mutation), then <seconds> of fuzzing from that corpus (0: none). New inputs
# go to <build-fuzz>/fuzz-corpus/<target>/, never into the repository; a crash, leak, timeout
# (-timeout, seconds per input, FUZZ_TIMEOUT) or allocation beyond -rss_limit_mb saves its input to
# <build-fuzz>/fuzz-artifacts/ and fails the run. Prints one summary line per target.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=()
  for binary in "$build"/fuzz/*_fuzz; do targets+=("$(basename "$binary")"); done
fi
# -timeout is wall time: on a machine busy with other work, FUZZ_TIMEOUT=60 keeps a starved
# process from being reported as a hang.
limits=(-rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-10}" -malloc_limit_mb=2048)
# Leaks inside GLib and GStreamer (process-lifetime allocations) are not findings: lsan.supp.
export LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$build/fuzz-artifacts"
status=0
for target in "${targets[@]}"; do
  binary=$build/fuzz/$target
  # The target's corpus and the tests/data files data_seeds.txt names for it, in one folder.
  seeds=$build/fuzz-seeds/$target
  rm -rf "$seeds"
  mkdir -p "$seeds"
  if [ -d "$here/corpus/$target" ]; then cp "$here/corpus/$target"/* "$seeds"/; fi
  while read -r seed_target pattern; do
    [ "$seed_target" = "$target" ] || continue
    for file in "$root"/$pattern; do
      relative=${file#"$root"/}
      cp "$file" "$seeds/data_${relative//\//_}"
    done
  done < <(grep -v '^#' "$here/data_seeds.txt")
  work=$build/fuzz-corpus/$target
  log=$build/fuzz-artifacts/$target.log
  mkdir -p "$work"
  artifacts=(-artifact_prefix="$build/fuzz-artifacts/$target-")
  start=$(date +%s)
  if ! "$binary" "${limits[@]}" "${artifacts[@]}" -runs=0 "$seeds" >"$log" 2>&1; then
    echo "fuzz: $target FAILED on its corpus (log: $log)"; tail -n 30 "$log"; status=1; continue
  fi
  if [ "$seconds" -gt 0 ] && ! "$binary" "${limits[@]}" "${artifacts[@]}" \
      -max_total_time="$seconds" -print_final_stats=1 "$work" "$seeds" >>"$log" 2>&1; then
    echo "fuzz: $target FAILED while fuzzing (log: $log)"; tail -n 30 "$log"; status=1; continue
  fi
  stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+' || true)
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$' || echo 0)
  echo "fuzz: $target ok: corpus of $(ls "$seeds" | wc -l) inputs passed; ${seconds}s fuzzing:" \
    "$runs executions, $stats ($(( $(date +%s) - start ))s)"
done
exit $status
