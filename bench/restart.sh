#!/usr/bin/env bash
# The restart test: N idle widgets connected to a release `beckon demo`; once all are in, the
# server is stopped (SIGTERM: sockets closed with 1001) and started again on the same port and
# database; reports how long until every widget has reconnected and resumed.
#
#   bench/restart.sh VISITORS [BACKOFF_MS]      e.g. bench/restart.sh 19000
set -euo pipefail
cd "$(dirname "$0")/.."
visitors=${1:?visitors}; backoff=${2:-1000}

cargo build --release -q -p beckon -p beckon-load
# shellcheck source=bench/load-limits.env
. bench/load-limits.env
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
start() {
  (cd "$dir" && RUST_LOG=warn exec "$OLDPWD/target/release/beckon" demo --bind "$1" >> out.txt 2>> err.txt) &
  server=$!
}
trap 'kill $server $client 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"' EXIT
start 127.0.0.1:0
for _ in $(seq 100); do grep -q "beckon listening on" "$dir/out.txt" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^beckon listening on //p' "$dir/out.txt" | head -1)
[ -n "$url" ] || { cat "$dir/err.txt"; exit 1; }
sources=(); for i in 2 3 4 5 6 7 8 9; do sources+=(--source-ip "127.0.0.$i"); done
mkfifo "$dir/client.out"
target/release/beckon-reconnect --url "$url" --visitors "$visitors" --backoff-ms "$backoff" "${sources[@]}" > "$dir/client.out" &
client=$!
while read -r line; do
  echo "$line"
  if [ "$line" = READY ]; then
    echo "all $visitors connected; restarting the server"
    kill -TERM $server; wait $server || true
    start "${url#http://}"
  fi
done < "$dir/client.out"
wait $client
