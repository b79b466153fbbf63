#!/usr/bin/env bash
# tools/setup.sh - set up, build, and run vaern's main job on sample data it generates.
#
# Installs missing Debian packages when run as root (otherwise prints the apt-get line),
# builds into build/, writes sample Windows event logs to out/sample/, reads them and hunts
# through them with vaern's own detection pack (and the SigmaHQ rules where present).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
vaern_need $VAERN_BUILD_PKGS
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVAERN_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "vaern: built build/vaern"
mkdir -p out/sample
./build/vaern-gen-evtx sample out/sample
echo "vaern: sample logs written to out/sample/"
echo
echo "== vaern evtx dump out/sample (first 5 events of $(ls out/sample | wc -l) files)"
./build/vaern evtx dump --stats out/sample > out/sample-events.jsonl
head -n 5 out/sample-events.jsonl
echo "..."
echo "vaern: all events in out/sample-events.jsonl"
echo
echo "== vaern hunt out/sample: vaern's own detection pack (built in), as a timeline"
./build/vaern hunt --color never -f table --summary out/sample
rules=../shared/data/sigma/rules
if [ -d "$rules" ]; then
    echo
    echo "== vaern hunt: the pack and the SigmaHQ rules from $rules over out/sample"
    ./build/vaern hunt -q --rules "$rules" -f jsonl -o out/sample-alerts.jsonl --summary \
        --color never out/sample
    echo "vaern: all alerts in out/sample-alerts.jsonl (JSON lines; -f csv or -f table for others)"
else
    echo "(no SigmaHQ rules at $rules: vaern hunt --rules DIR out/sample adds your own)"
fi
