#!/usr/bin/env bash
# failover-10k.sh: three masters as separate processes (scripts/local-masters.sh),
# the scale benchmark attached to them (10,000 agents, 100,000 running tasks by
# default), the leader killed with SIGKILL 30 s into the steady interval, and
# the time from the kill until every agent was registered with the next leader
# (the benchmark's agents report when that happened: steady.all_registered_at).
#
#   scripts/failover-10k.sh OUTDIR [--agent-nice N] [--agents N] [--tasks N] [-- master flags...]
#
# --agent-nice N starts the benchmark's agent processes at niceness N, so that
# the masters get the CPU first, as on machines of their own. OUTDIR receives
# the masters' logs, the benchmark's JSON and log, and result.txt.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:?usage: scripts/failover-10k.sh OUTDIR [--agent-nice N] [--agents N] [--tasks N] [-- master flags...]}
shift
bench_args=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
	bench_args+=("$1")
	shift
done
[[ $# -gt 0 ]] && shift # the "--"
mkdir -p "$out"
agora=${AGORA:-$out/agora}
if [[ -z "${AGORA:-}" ]]; then
	go build -o "$agora" .
fi

AGORA=$agora scripts/local-masters.sh "$out/masters" -- "$@" >"$out/masters.out" 2>&1 &
masters=$!
trap 'kill $masters 2>/dev/null; wait' EXIT
for _ in $(seq 100); do
	curl -sf http://127.0.0.1:15051/api/v1/leader >/dev/null && break
	sleep 0.2
done

"$agora" bench --scenario scale --duration 90s --agent-dir /dev/shm --progress lines --output json \
	--nats nats://127.0.0.1:14221,nats://127.0.0.1:14222,nats://127.0.0.1:14223 \
	--masters-http 127.0.0.1:15051,127.0.0.1:15052,127.0.0.1:15053 "${bench_args[@]}" \
	>"$out/bench.json" 2>"$out/bench.log" &
bench=$!
until grep -q 'steady interval' "$out/bench.log" 2>/dev/null; do
	kill -0 $bench 2>/dev/null || { echo "the benchmark ended before its steady interval; see $out/bench.log" >&2; exit 1; }
	sleep 1
done
sleep 30
leader=$(curl -sf http://127.0.0.1:15051/api/v1/leader || curl -sf http://127.0.0.1:15052/api/v1/leader)
name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["name"])' "$leader")
term=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["term"])' "$leader")
pid=$(pgrep -f "agora master --name $name ")
killed=$(date +%s.%N)
kill -9 "$pid"
echo "killed leader $name (term $term, pid $pid) at $killed" | tee "$out/result.txt"
wait $bench
python3 - "$out/bench.json" "$killed" "$term" <<'EOF' | tee -a "$out/result.txt"
import datetime, json, sys
res = json.load(open(sys.argv[1]))
killed, old = float(sys.argv[2]), int(sys.argv[3])
steady = res["scale"]["steady"]
def since_kill(v):  # seconds from the kill to an RFC 3339 time; None for Go's zero time
    ts = datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    return ts - killed if ts > 0 else None
def new_terms(key):
    got = {int(t): v for t, v in (steady.get(key) or {}).items()}
    return [(t, got[t]) for t in sorted(got) if t > old]
for t, v in new_terms("all_registered_at"):
    print(f"term {t}: every agent registered {since_kill(v):.3f} s after the kill")
for t, vs in new_terms("registered_tenths"):
    secs = [f"{s:.2f}" if s is not None else "-" for s in map(since_kill, vs)]
    print(f"term {t}: 10%, 20%, ... 100% of every agent process's agents registered at " + " ".join(secs) + " s")
print(f"leader changes during the steady interval: {steady.get('leader_changes', 0)}")
EOF
