#!/usr/bin/env bash
# tests/cli/evtx_dump.sh VAERN GEN - the `vaern evtx dump` command end to end on generated
# sample logs: JSON lines are valid and carry the expected events, --xml agrees on the count,
# thread count does not change the output, exit codes follow docs/cli.md.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

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
# Chunks whose CRC32 does not match (issue 12, item 8): every command reads them and warns by
# default; --strict-crc skips them; --ignore-crc is still taken (it is the default).
"$gen" fixtures "$tmp/fx" >/dev/null || bad "fixtures"
for f in bad_records_crc bad_chunk_header_crc; do
    x=$tmp/fx/$f.evtx
    for cmd in "evtx dump" "dump"; do
        # shellcheck disable=SC2086
        "$vaern" $cmd "$x" >"$tmp/d.jsonl" 2>"$tmp/err"; rc=$?
        # shellcheck disable=SC2086
        "$vaern" $cmd --strict-crc "$x" >"$tmp/s.jsonl" 2>"$tmp/serr"; src=$?
        # shellcheck disable=SC2086
        "$vaern" $cmd --ignore-crc "$x" >"$tmp/i.jsonl" 2>/dev/null
        nd=$(wc -l <"$tmp/d.jsonl") ns=$(wc -l <"$tmp/s.jsonl")
        [ "$nd" -gt "$ns" ] && cmp -s "$tmp/d.jsonl" "$tmp/i.jsonl" && ok ||
            bad "$cmd $f: $nd records by default, $ns with --strict-crc (want more by default, as --ignore-crc)"
        grep -q "warning: .*VA_ECRC" "$tmp/err" && ! grep -q 'skipped' "$tmp/err" && [ $rc = 1 ] && ok ||
            bad "$cmd $f: exit $rc, want a warning and 1: $(cat "$tmp/err")"
        grep -q "error: .*VA_ECRC.*chunk skipped" "$tmp/serr" && [ $src = 1 ] && ok ||
            bad "$cmd $f --strict-crc: exit $src, $(cat "$tmp/serr")"
    done
    "$vaern" hunt --no-cache "$x" >/dev/null 2>"$tmp/err"
    grep -q "^vaern: $nd events" "$tmp/err" && ok || bad "hunt $f: not the $nd events of dump: $(cat "$tmp/err")"
done
finish cli_evtx_dump
