#!/usr/bin/env bash
# Long fuzzing runs, one target after another (never two at once), each under `nice -n 19` with one
# libFuzzer process. Keeps the growing corpus in fuzz/corpus/<target> (not committed; reused by the
# next run) and a log per target in $FUZZ_LOG_DIR (default fuzz/logs).
#
#   fuzz/run-long.sh                              # all four targets, an hour each
#   fuzz/run-long.sh trigger_rules:3600 context:600
#
# A crash does not stop the other targets: its input is in fuzz/artifacts/<target>/ and the log
# says which. Summaries (executions, exec/s, corpus, coverage) are the last lines of each log.
set -uo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
logs="${FUZZ_LOG_DIR:-fuzz/logs}"
mkdir -p "$logs"
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(visitor_frame:3600 agent_frame:3600 trigger_rules:3600 context:3600)

nice -n 19 cargo fuzz build || exit 1
for spec in "${specs[@]}"; do
  t="${spec%%:*}"
  secs="${spec#*:}"
  [ "$secs" != "$spec" ] || secs=3600
  mkdir -p "fuzz/corpus/$t"
  echo "$(date -u +%FT%TZ) start $t for $secs s" | tee -a "$logs/summary.log"
  start=$(date +%s)
  nice -n 19 cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$logs/$t.log" 2>&1
  rc=$?
  echo "$(date -u +%FT%TZ) end $t rc=$rc after $(( $(date +%s) - start )) s; corpus $(ls "fuzz/corpus/$t" | wc -l) files" \
    | tee -a "$logs/summary.log"
  grep -E '^#[0-9]+ +DONE|^stat::' "$logs/$t.log" | tee -a "$logs/summary.log"
done
