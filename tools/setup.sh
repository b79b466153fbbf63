#!/usr/bin/env bash
# tools/setup.sh - set up, build, and run vaern's main job on sample data it generates.
#
# Installs missing Debian packages when run as root (otherwise prints the apt-get line),
# builds into build/, writes sample Windows event logs to out/sample/, and reads them.
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
echo "== failed logons (4625) per source address"
grep '"EventID":4625' out/sample-events.jsonl | grep -o '"IpAddress":"[^"]*"' | sort | uniq -c | sort -rn
rules=../shared/data/sigma/rules
if [ -d "$rules" ]; then
    echo
    echo "== vaern hunt: the SigmaHQ rules from $rules over out/sample (alerts per rule)"
    ./build/vaern hunt -q --rules "$rules" out/sample > out/sample-alerts.jsonl
    python3 -c '
import collections, json, sys
c = collections.Counter((a["level"], a["rule"]) for a in map(json.loads, open(sys.argv[1])))
for (level, rule), n in sorted(c.items(), key=lambda x: -x[1]):
    print(f"{n:5d}  {level:8s}  {rule}")
' out/sample-alerts.jsonl
    echo "vaern: all alerts in out/sample-alerts.jsonl"
else
    echo "(no Sigma rules at $rules: vaern hunt --rules DIR out/sample hunts with your own)"
fi
