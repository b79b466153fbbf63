#!/usr/bin/env bash
# bench/run.sh VAERN GEN - the benchmarks behind `make bench`; see bench/evtx_bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
vaern_need $VAERN_BENCH_PKGS
exec python3 bench/evtx_bench.py --vaern "$1" --gen "$2" "${@:3}"
