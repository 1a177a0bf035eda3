#!/usr/bin/env bash
# make demo: the service on embedded defaults, fed by `leaderboard loadgen`,
# printing the live top 10 of one board every few seconds until interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=bin/leaderboard
export CHDB_LIB_PATH="${CHDB_LIB_PATH:-$(scripts/libchdb.sh)}"
export LEADERBOARD_DATA_DIR="${LEADERBOARD_DATA_DIR:-./data/demo}"
addr="${LEADERBOARD_HTTP_ADDR:-:8080}"
url="http://localhost:${addr##*:}"
board="${DEMO_BOARD:-board-001}"

"$bin" migrate up
"$bin" serve >"$LEADERBOARD_DATA_DIR/serve.log" 2>&1 &
serve=$!
loadgen=""
cleanup() {
	trap - EXIT INT TERM
	[[ -n "$loadgen" ]] && kill "$loadgen" 2>/dev/null || true
	kill -TERM "$serve" 2>/dev/null || true
	wait "$serve" 2>/dev/null || true
	echo "stopped; service log: $LEADERBOARD_DATA_DIR/serve.log"
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 300); do
	curl -fsS "$url/readyz" >/dev/null 2>&1 && break
	kill -0 "$serve" 2>/dev/null || { echo "the service did not start:"; tail -5 "$LEADERBOARD_DATA_DIR/serve.log"; exit 1; }
	sleep 0.2
done
echo "service at $url  (health: $url/health, metrics: $url/metrics)"

"$bin" loadgen -target http -url "$url" -rate "${DEMO_RATE:-200}" -boards 3 -players 500 >"$LEADERBOARD_DATA_DIR/loadgen.log" 2>&1 &
loadgen=$!

while true; do
	sleep 3
	echo "---- $(date -u +%H:%M:%S) top 10 of $board (daily, UTC) ----"
	curl -fsS "$url/leaderboards/$board/rankings?window=daily&limit=10" |
		python3 -c 'import json,sys
d=json.load(sys.stdin)
print("players: %d  source: %s" % (d["total_players"], d["source"]))
for e in d["entries"]:
    print("%3d  %-16s %8d  %s" % (e["rank"], e["player_id"], e["score"], e["reached_at"]))' ||
		echo "(rankings not available yet)"
	tail -1 "$LEADERBOARD_DATA_DIR/loadgen.log" 2>/dev/null || true
done
