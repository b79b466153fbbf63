#!/usr/bin/env bash
# tests/cli/hunt_regex_limit.sh VAERN - a regular expression that PCRE2 gives up on (its match
# limit) must not hide a match: `vaern hunt` raises the alert, marks it undecided in every
# format, reports rule, event and field, and counts it in the summary.
set -uo pipefail
vaern=$1
. "$(dirname "$0")/lib.sh"

# 30 a's, a non-b, then the real match "ab": (a+)+b backtracks exponentially at the start.
pad="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac ab"
printf '{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WS1","@timestamp":"2024-01-01T10:00:00.000Z","CommandLine":"%s","Image":"C:\\\\x.exe"}\n' "$pad" >"$tmp/pad.json"
printf '{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WS1","@timestamp":"2024-01-01T10:00:01.000Z","CommandLine":"plain aab","Image":"C:\\\\x.exe"}\n' >"$tmp/plain.json"
cat >"$tmp/r.yml" <<'YML'
title: Padded regex
id: 11111111-2222-3333-4444-555555555555
level: high
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|re: '(a+)+b'}
  condition: sel
YML
for pf in auto off; do
    "$vaern" hunt --no-pack --no-cache --prefilter $pf -r "$tmp/r.yml" -f jsonl "$tmp/pad.json" \
        "$tmp/plain.json" >"$tmp/o.jsonl" 2>"$tmp/err"
    rc=$?
    [ $rc = 0 ] && ok || bad "exit $rc (prefilter $pf): $(cat "$tmp/err")"
    python3 - "$tmp/o.jsonl" <<'PY' && ok || bad "jsonl alerts (prefilter $pf)"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
assert len(a) == 2, a
assert a[0]["undecided"] == "CommandLine" and "CommandLine" in a[0]["fields"], a[0]
assert "undecided" not in a[1], a[1]
PY
    grep -q "pad.json: line 1: .*VA_ELIMIT: rule 'Padded regex': a regular expression on CommandLine stopped at PCRE2's match limit" "$tmp/err" && ok || bad "no report naming file, line, rule and field: $(cat "$tmp/err")"
    grep -q "2 alerts (1 undecided" "$tmp/err" && ok || bad "count not in the totals"
done
"$vaern" hunt --no-pack --no-cache -r "$tmp/r.yml" -f csv "$tmp/pad.json" >"$tmp/o.csv" 2>/dev/null
head -1 "$tmp/o.csv" | grep -q ',undecided' && tail -1 "$tmp/o.csv" | grep -q ',CommandLine' && ok || bad "csv column"
"$vaern" hunt --no-pack --no-cache -r "$tmp/r.yml" -f table --color never --summary "$tmp/pad.json" >"$tmp/o.txt" 2>"$tmp/sum"
grep -q 'UNDECIDED (regex limit in CommandLine)' "$tmp/o.txt" && ok || bad "table marker: $(cat "$tmp/o.txt")"
grep -q '1 undecided: a regular expression hit its match limit' "$tmp/sum" && ok || bad "summary: $(cat "$tmp/sum")"
finish hunt_regex_limit
