#!/usr/bin/env bash
# Runs the Agora chaos test: three masters and three agents in network
# namespaces, a batch and a service workload, a fixed-seed fault schedule,
# then the checker (see scripts/chaos/README.md). Needs root.
#
#   scripts/chaos/run.sh                       # the short run CI does (seed 1, 75s of faults)
#   scripts/chaos/run.sh --seed 7 --duration 10m --dir /tmp/chaos-long
#
# Flags (or the environment variables in brackets):
#   --seed N         fault schedule and workload seed [AGORA_CHAOS_SEED, default 1]
#   --duration D     how long faults are injected, a Go duration [AGORA_CHAOS_DURATION, default 75s]
#   --dir DIR        keep logs, data, ledger, record and report here [AGORA_CHAOS_DIR;
#                    default: a temporary directory, removed if the run passes]
#   --timeout D      go test timeout [default 3h]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

timeout=3h
while [ $# -gt 0 ]; do
	case "$1" in
	--seed) export AGORA_CHAOS_SEED="$2"; shift 2 ;;
	--duration) export AGORA_CHAOS_DURATION="$2"; shift 2 ;;
	--dir) mkdir -p "$2"; export AGORA_CHAOS_DIR="$(cd "$2" && pwd)"; shift 2 ;;
	--timeout) timeout="$2"; shift 2 ;;
	-h|--help) sed -n '2,17p' "$here/run.sh"; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" != 0 ]; then
	echo "run.sh: the chaos test needs root (network namespaces)" >&2
	exit 2
fi
exec go test -tags chaos -count=1 -v -run '^TestChaos$' -timeout "$timeout" ./scripts/chaos/
