#!/usr/bin/env bash
# bench.sh runs `agora bench` at the sizes of the performance targets
# (issue 9) and at 100/1,000/10,000 agents for "how it scales", and keeps
# every run's JSON, table, log and profile in one directory.
#
#   scripts/bench.sh [OUT_DIR]          # default: bench-results/<date>
#   AGORA=./agora scripts/bench.sh      # use a built binary
#   QUICK=1 scripts/bench.sh            # small sizes, to try the script
#
# Agents' work dirs go to /dev/shm when it exists (their checkpoint fsyncs
# would otherwise measure the disk); BENCH_AGENT_DIR overrides it.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
agora=${AGORA:-}
if [[ -z "$agora" ]]; then
	agora="$out/agora"
	go build -o "$agora" .
fi
agent_dir=${BENCH_AGENT_DIR:-}
if [[ -z "$agent_dir" && -d /dev/shm ]]; then
	agent_dir=/dev/shm
fi
shm=()
if [[ -n "$agent_dir" ]]; then
	shm=(--agent-dir "$agent_dir")
fi

{
	echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "go:      $(go version)"
	echo "nproc:   $(nproc)"
	echo "kernel:  $(uname -r)"
	echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memory:  $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
	echo "loadavg: $(cat /proc/loadavg)"
	echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

# run NAME ARGS... runs one benchmark, keeping its JSON, table and log.
run() {
	local name=$1
	shift
	echo "== $name: agora bench $*" | tee -a "$out/commands.txt"
	if "$agora" bench "$@" --progress lines --output json \
		--cpuprofile "$out/$name.cpu.pprof" >"$out/$name.json" 2>"$out/$name.log"; then
		python3 - "$out/$name.json" <<'PY' | tee "$out/$name.txt"
import json, sys
r = json.load(open(sys.argv[1]))
for f in r["figures"]:
    met = "" if f.get("met") is None else ("yes" if f["met"] else "NO")
    print(f"  {f['name']:<40} {f['value']:>12} {f.get('unit', ''):<14} {f.get('target', ''):<44} {met}")
print(f"  (load average {r['machine']['loadavg_start']} -> {r['machine']['loadavg_end']})")
PY
	else
		echo "  FAILED (see $out/$name.log)" | tee "$out/$name.txt"
		tail -5 "$out/$name.log"
	fi
}

if [[ -n "${QUICK:-}" ]]; then
	run offers --scenario offers --agents 50 --samples 500 "${shm[@]}"
	run launch --scenario launch --agents 50 --tasks 2000 "${shm[@]}"
	run failover --scenario failover --agents 50 --rate 200 --failovers 2 --duration 2s "${shm[@]}"
	run scale --scenario scale --agents 200 --tasks 2000 --duration 5s --masters 3 "${shm[@]}"
	run real --scenario real --tasks 200
	exit 0
fi

# The targets.
run offers-1000 --scenario offers --samples 20000 "${shm[@]}"
run offers-1000-c1 --scenario offers --samples 20000 --concurrency 1 "${shm[@]}"
run offers-1000-polled --scenario offers --samples 20000 --poll-state 4 "${shm[@]}"
run launch-1000 --scenario launch "${shm[@]}"
run launch-1000-50k --scenario launch --tasks 50000 --window 10000 "${shm[@]}"
run launch-1000-disk --scenario launch --tasks 20000
run failover-1000 --scenario failover "${shm[@]}"
run failover-1000-raft250 --scenario failover --raft-timeout 250ms "${shm[@]}"
run scale-10000 --scenario scale --memprofile "$out/scale-10000.mem.pprof" "${shm[@]}"
run scale-10000-m3 --scenario scale --masters 3 "${shm[@]}"
run state-10000 --scenario state "${shm[@]}"
run state-1000 --scenario state --agents 1000 --tasks 10000 "${shm[@]}"
run real-batch --scenario real --real-via batch
run real-sdk --scenario real --real-via sdk

# How it scales: 100 and 10,000 agents (1,000 is above); 10 tasks per
# agent for scale, a window of 20,000 tasks for launch.
for n in 100 10000; do
	run "offers-$n" --scenario offers --agents "$n" --samples 20000 "${shm[@]}"
	run "launch-$n" --scenario launch --agents "$n" --tasks $((n * 10 < 20000 ? 20000 : n * 10)) --window 20000 "${shm[@]}"
done
run scale-100 --scenario scale --agents 100 --tasks 1000 "${shm[@]}"
run scale-1000 --scenario scale --agents 1000 --tasks 10000 "${shm[@]}"
echo "results in $out"
