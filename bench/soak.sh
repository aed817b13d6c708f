#!/usr/bin/env bash
# The cluster soak: three `beckon` nodes on PostgreSQL (a database of its own on 127.0.0.1:5432)
# and NATS (127.0.0.1:4222), three chats going on, one node killed (SIGKILL) and replaced every
# SOAK_KILL_EVERY_SECS seconds for SOAK_SECS seconds; counts messages lost, repeated and delivered
# out of order at the widgets and the console, and fails if any. Not in CI (an hour by default).
#
#   bench/soak.sh                         # an hour, a kill every 15 s
#   SOAK_SECS=600 SOAK_KILL_EVERY_SECS=5 bench/soak.sh
#
# The test is `soak_repeated_node_kills` in crates/beckon/tests/cluster_faults.rs (ignored by a
# plain `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECS="${SOAK_SECS:-3600}" SOAK_KILL_EVERY_SECS="${SOAK_KILL_EVERY_SECS:-15}"
cargo test -p beckon --test cluster_faults --locked -- --ignored --exact soak_repeated_node_kills --nocapture
