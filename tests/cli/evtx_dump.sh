#!/usr/bin/env bash
# tests/cli/evtx_dump.sh VAERN GEN - the `vaern evtx dump` command end to end on generated
# sample logs: JSON lines are valid and carry the expected events, --xml agrees on the count,
# thread count does not change the output, exit codes follow docs/cli.md.
set -uo pipefail
vaern=$1 gen=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
"$vaern" evtx dump -t 1 "$tmp/s" >"$tmp/one.jsonl" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && ok || bad "exit code $rc on clean sample logs: $(cat "$tmp/err")"
"$vaern" evtx dump -t 2 "$tmp/s" >"$tmp/two.jsonl" 2>/dev/null
cmp -s "$tmp/one.jsonl" "$tmp/two.jsonl" && ok || bad "output differs between 1 and 2 threads"
python3 - "$tmp/one.jsonl" <<'PY' && ok || bad "JSON lines check"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert evs, "no events"
for e in evs:
    for f in ("EventID", "Channel", "TimeCreated", "EventRecordID", "Computer"):
        assert f in e, f"{f} missing in {e}"
fails = [e for e in evs if e["EventID"] == 4625]
assert len(fails) >= 10, f"expected a burst of failed logons, got {len(fails)}"
assert all("IpAddress" in e and "TargetUserName" in e for e in fails)
assert any(e["EventID"] == 1102 for e in evs), "cleared log missing"
PY
n_json=$(wc -l <"$tmp/one.jsonl")
n_xml=$("$vaern" evtx dump --xml "$tmp/s" | grep -c '^<Event ')
[ "$n_json" = "$n_xml" ] && ok || bad "--xml printed $n_xml events, JSON $n_json"
printf 'not an evtx file' >"$tmp/junk.evtx"
"$vaern" evtx dump "$tmp/junk.evtx" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 1 ] && grep -q 'VA_EFORMAT' "$tmp/err" && ok || bad "junk file: exit $rc, $(cat "$tmp/err")"
"$vaern" evtx dump --threads x "$tmp/s" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok || bad "bad option: exit $rc"
"$vaern" evtx dump "$tmp/missing.evtx" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok || bad "missing file: exit $rc"
echo "cli_evtx_dump: $pass passed, $fail failed"
[ $fail = 0 ]
