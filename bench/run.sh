#!/usr/bin/env bash
# bench/run.sh VAERN GEN - the benchmarks behind `make bench`: bench/evtx_bench.py (reading EVTX)
# and bench/sigma_bench.py (hunting with Sigma rules).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
vaern_need $VAERN_BENCH_PKGS
python3 bench/evtx_bench.py --vaern "$1" --gen "$2" "${@:3}"
python3 bench/sigma_bench.py --vaern "$1" --gen "$2" "${@:3}"
python3 bench/correlation_bench.py --vaern "$1" --gen "$2" "${@:3}"
