#!/usr/bin/env bash
# Runs one load test against a fresh release-built `beckon demo` and reports the server's memory.
#
#   bench/load.sh VISITORS CHATTING RATE SECONDS [HOLD_SECONDS] [AGENTS]
#
# e.g. idle sessions only:      bench/load.sh 5000 0 0 1 20
#      messages at 1,000 msg/s: bench/load.sh 5000 100 1000 30
# Prints the load tool's report, then the server's resident memory before, at peak and at the end,
# and per session, and (with HOLD_SECONDS > 0) the server's CPU use while the sessions were held: the
# last HOLD_SECONDS of the run, when every session is connected and idle unless chatting.
# Everything runs on loopback; the test stops by itself.
#
# To compare with another build of the server (e.g. an older commit, built in a worktree), name it:
#   BENCH_SERVER_BIN=/path/to/old/target/release/beckon BENCH_LIMITS_ENV= bench/load.sh …
# BENCH_CONNECT_RATE: new sockets per second while ramping up (default 2000).
# (Not BECKON_*: the server reads those as its configuration. BENCH_LIMITS_ENV empty: do not raise the abuse limits, for a build from before they existed.)
set -euo pipefail
cd "$(dirname "$0")/.."
visitors=${1:?visitors}; chatting=${2:?chatting}; rate=${3:?rate}; secs=${4:?seconds}; hold=${5:-0}; agents=${6:-4}

cargo build --release -q -p beckon -p beckon-load
server_bin=${BENCH_SERVER_BIN:-$PWD/target/release/beckon}
limits_env=${BENCH_LIMITS_ENV-bench/load-limits.env}
# shellcheck source=bench/load-limits.env
[ -z "$limits_env" ] || . "$limits_env"
ulimit -n "$(ulimit -Hn)"
# A run right after another starts with the last one's tens of thousands of sockets still closing
# (TIME-WAIT, FIN-WAIT) and their kernel memory being freed: that alone made p99 28–31 ms instead
# of 7 ms. Wait (at most two minutes) until they have drained.
for _ in $(seq 240); do
  closing=$(ss -Htan state time-wait state fin-wait-1 state fin-wait-2 state last-ack 2>/dev/null | wc -l)
  [ "$closing" -lt 500 ] && break
  sleep 0.5
done
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
(cd "$dir" && RUST_LOG=warn exec "$server_bin" demo --bind 127.0.0.1:0 > out.txt 2> err.txt) &
server=$!
for _ in $(seq 100); do grep -q "beckon listening on" "$dir/out.txt" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^beckon listening on //p' "$dir/out.txt")
[ -n "$url" ] || { cat "$dir/err.txt"; exit 1; }

capacity=$(( (chatting + agents - 1) / agents + 1 ))
agent_args=()
for i in $(seq "$agents"); do
  BECKON_NEW_AGENT_PASSWORD=load-password "$server_bin" agent-add --widget beckon-demo \
    --email "load$i@bench.test" --name "Load agent $i" --capacity "$capacity" \
    --database-url "sqlite://$dir/beckon-demo.db" > /dev/null
  agent_args+=(--agent "load$i@bench.test:load-password")
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
# utime + stime of the server process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
before=$(rss)
peak=$before
( while kill -0 $server 2>/dev/null; do echo "$(date +%s.%N) $(rss) $(cpu_ticks)"; sleep 0.25; done ) > "$dir/rss.txt" &
sampler=$!
sources=(); for i in 2 3 4 5 6 7 8 9; do sources+=(--source-ip "127.0.0.$i"); done
target/release/beckon-load --url "$url" --visitors "$visitors" --chatting "$chatting" --rate "$rate" \
  --duration "$secs" --hold "$hold" --connect-rate "${BENCH_CONNECT_RATE:-2000}" "${agent_args[@]}" "${sources[@]}"
kill $sampler 2>/dev/null || true
peak=$(awk '{print $2}' "$dir/rss.txt" | sort -n | tail -1)
last=$(tail -1 "$dir/rss.txt" | awk '{print $2}')
per() { echo $(( ($1 - before) * 1024 / (visitors > 0 ? visitors : 1) )); }
echo "server RSS: before ${before} KiB, peak ${peak} KiB, per session $(per "$peak") bytes (at the end: ${last} KiB, $(per "$last") bytes)"
if [ "$hold" -gt 0 ]; then
  awk -v hold="$hold" -v tck="$(getconf CLK_TCK)" '
    { t[NR] = $1; c[NR] = $3 }
    END {
      # The last sample, and the first sample at least HOLD seconds before it.
      for (i = NR; i > 1 && t[NR] - t[i] < hold; i--) {}
      secs = t[NR] - t[i]
      if (secs > 0) printf "server CPU while held: %.1f %% of one core over the last %.0f s\n", 100 * (c[NR] - c[i]) / tck / secs, secs
    }' "$dir/rss.txt"
fi
