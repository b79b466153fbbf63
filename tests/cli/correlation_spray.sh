#!/usr/bin/env bash
# tests/cli/correlation_spray.sh VAERN GEN - a brute force hidden behind a password spray, through
# the real `vaern hunt` with the built-in pack: 200,000 failed network logons from 200,000
# addresses (10 ms apart), then 20 from one address.  Every failure feeds the correlations, and
# the hunt flushes them only at the end, so the waiting matches pass the default memory budget
# (8 MiB) and are spilled to disk; the brute force must still raise its alerts, with nothing
# dropped, nothing left in the spill directory, and the same alerts when spilling fails.
# (The full 3,000,000 case is bench/correlation_bench.py.)
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

"$gen" spray "$tmp/spray.evtx" --records 200000 --burst 20 >/dev/null || { echo "FAIL: generator"; exit 1; }
mkdir "$tmp/spill"
TMPDIR="$tmp/spill" "$vaern" hunt --no-cache -f jsonl "$tmp/spray.evtx" >"$tmp/a.jsonl" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && ok || bad "exit code $rc: $(cat "$tmp/err")"
grep -q '200020 events' "$tmp/err" && ok || bad "events: $(cat "$tmp/err")"
! grep -Eq 'VA_ELIMIT|VA_EIO|dropped|lost' "$tmp/err" && ok || bad "a bound or an I/O problem: $(cat "$tmp/err")"
python3 - "$tmp/a.jsonl" <<'PY' && ok || bad "alerts of the brute force"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
# 20 failures from one address: one alert per fresh window of 10 (docs/correlation.md).  The
# spray also fails a few accounts many times, which the pack's per-account rule reports; only
# the per-address alerts are checked here, and they must come from the burst alone.
addr = [a for a in alerts if a["rule"] == "Password guessing from one address"]
assert len(addr) == 2, addr[:5]
for a in addr:
    assert a["fields"] == {"IpAddress": "203.0.113.77"}, a
    assert a["count"] == 10, a
PY
[ -z "$(ls -A "$tmp/spill")" ] && ok || bad "files left in the spill directory: $(ls -A "$tmp/spill")"

# A spill directory that does not exist: reported (a problem, so exit 1), the matches stay
# in memory, same alerts.  --tmpdir says the same as TMPDIR.
TMPDIR="$tmp/none" "$vaern" hunt --no-cache -f jsonl "$tmp/spray.evtx" >"$tmp/b.jsonl" 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && ok || bad "exit code $rc without a spill directory (want 1: a reported problem)"
"$vaern" hunt --no-cache -f jsonl --tmpdir "$tmp/none" "$tmp/spray.evtx" >"$tmp/c.jsonl" 2>/dev/null
cmp -s "$tmp/b.jsonl" "$tmp/c.jsonl" && ok || bad "--tmpdir differs from TMPDIR"
grep -q "VA_EIO: cannot spill correlation inputs in $tmp/none" "$tmp/err" && ok ||
    bad "a failed spill is not reported: $(cat "$tmp/err")"
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" && ok || bad "alerts differ when the spill fails"

finish correlation_spray
