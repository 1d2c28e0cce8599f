#!/usr/bin/env bash
# local-masters.sh starts three masters as separate processes on loopback,
# clustered (raft and NATS routes), and stops them on Ctrl-C. Extra
# arguments go to every master (e.g. --raft-timeout 1s --enable-debug).
#
#   scripts/local-masters.sh [DIR] [-- master flags...]
#
# Masters m1..m3: raft 127.0.0.1:1700N, HTTP 127.0.0.1:1505N, NATS clients
# 127.0.0.1:1422N, NATS routes 127.0.0.1:1610N; logs in DIR/mN.log. Attach
# agents or `agora bench` with
#   --nats nats://127.0.0.1:14221,nats://127.0.0.1:14222,nats://127.0.0.1:14223
#   --masters-http 127.0.0.1:15051,127.0.0.1:15052,127.0.0.1:15053
set -euo pipefail

cd "$(dirname "$0")/.."
dir=/tmp/agora-local-masters
if [[ $# -gt 0 && "$1" != "--" ]]; then
	dir=$1
	shift
fi
if [[ $# -gt 0 && "$1" == "--" ]]; then
	shift
fi
mkdir -p "$dir"
agora=${AGORA:-}
if [[ -z "$agora" ]]; then
	agora="$dir/agora"
	go build -o "$agora" .
fi
peers="m1=127.0.0.1:17001,m2=127.0.0.1:17002,m3=127.0.0.1:17003"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for i in 1 2 3; do
	routes=()
	for j in 1 2 3; do
		[[ $j != "$i" ]] && routes+=("127.0.0.1:1610$j")
	done
	"$agora" master --name "m$i" --data-dir "$dir/m$i" --raft-addr "127.0.0.1:1700$i" --peers "$peers" \
		--http "127.0.0.1:1505$i" --nats-listen "127.0.0.1:1422$i" \
		--nats-cluster "127.0.0.1:1610$i" --nats-routes "$(IFS=,; echo "${routes[*]}")" \
		"$@" >"$dir/m$i.log" 2>&1 &
	pids+=($!)
done
echo "masters m1 m2 m3 running (logs in $dir); Ctrl-C stops them"
wait
