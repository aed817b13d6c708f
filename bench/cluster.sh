#!/usr/bin/env bash
# A load test on a three-node cluster on this machine: three release-built `beckon` nodes on a
# PostgreSQL database of their own (created on 127.0.0.1:5432, dropped after) and NATS
# (127.0.0.1:4222, a subject prefix of their own). The visitors connect to nodes 1 and 2 in turn,
# the agents' consoles to node 3, so every message crosses nodes over NATS both ways.
#
#   bench/cluster.sh VISITORS CHATTING RATE SECONDS [HOLD_SECONDS] [AGENTS]
#
# e.g. 2,000 msg/s across nodes: bench/cluster.sh 6000 200 2000 30
# Prints the load tool's report (latency from the visitor's scheduled send to the agent's socket,
# lost, repeats) and each node's resident memory before and at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
visitors=${1:?visitors}; chatting=${2:?chatting}; rate=${3:?rate}; secs=${4:?seconds}; hold=${5:-0}; agents=${6:-4}
pg=${BECKON_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
nats=${BECKON_BENCH_NATS:-nats://127.0.0.1:4222}

cargo build --release -q -p beckon -p beckon-load
# Another build of the server to measure (not BECKON_*: the server reads those as configuration).
server_bin=${BENCH_SERVER_BIN:-$PWD/target/release/beckon}
# shellcheck source=bench/load-limits.env
. bench/load-limits.env
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
db="beckon_bench_$$"
export BECKON_NATS_SUBJECT_PREFIX="beckon-bench-$$"
psql "$pg/postgres" -qc "create database $db"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg/postgres" -qc "drop database if exists $db with (force)" || true
  rm -rf "$dir"
}
trap cleanup EXIT

urls=()
for n in 1 2 3; do
  mkdir -p "$dir/node$n"
  (cd "$dir/node$n" && RUST_LOG=warn exec "$server_bin" demo --bind 127.0.0.1:0 \
     --database-url "$pg/$db" --nats-url "$nats" > out.txt 2> err.txt) &
  pids+=($!)
  for _ in $(seq 300); do grep -q "beckon listening on" "$dir/node$n/out.txt" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^beckon listening on //p' "$dir/node$n/out.txt")
  [ -n "$url" ] || { cat "$dir/node$n/err.txt"; exit 1; }
  urls+=("$url")
done

capacity=$(( (chatting + agents - 1) / agents + 1 ))
agent_args=()
for i in $(seq "$agents"); do
  BECKON_NEW_AGENT_PASSWORD=load-password "$server_bin" agent-add --widget beckon-demo \
    --email "load$i@bench.test" --name "Load agent $i" --capacity "$capacity" \
    --database-url "$pg/$db" > /dev/null
  agent_args+=(--agent "load$i@bench.test:load-password")
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=(); for p in "${pids[@]}"; do before+=("$(rss "$p")"); done
sources=(); for i in 2 3 4 5 6 7 8 9; do sources+=(--source-ip "127.0.0.$i"); done
target/release/beckon-load --url "${urls[0]}" --visitor-url "${urls[0]}" --visitor-url "${urls[1]}" \
  --agent-url "${urls[2]}" --visitors "$visitors" --chatting "$chatting" --rate "$rate" \
  --duration "$secs" --hold "$hold" "${agent_args[@]}" "${sources[@]}"
for n in 0 1 2; do
  echo "node $((n + 1)) RSS: before ${before[$n]} KiB, at the end $(rss "${pids[$n]}") KiB"
done
