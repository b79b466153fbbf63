#!/usr/bin/env bash
# tests/cli/hunt_sample.sh VAERN GEN - `vaern hunt` end to end with vaern's built-in detection
# pack on the generated sample logs: each story in the logs gives its alert (the correlation
# chain included), the formats agree, the thread count and the prefilter change nothing, and
# the exit codes follow docs/cli.md.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
"$vaern" hunt --no-cache -f jsonl -t 1 "$tmp/s" >"$tmp/one.jsonl" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && ok || bad "exit code $rc on clean sample logs: $(cat "$tmp/err")"
python3 - "$tmp/one.jsonl" <<'PY' && ok || bad "alerts of the built-in pack"
import collections, json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
n = collections.Counter(a["rule"] for a in alerts)
want = {
    "Password guessing from one address": 4,  # 40 failures: one alert per fresh window of 10
    # The same 40 failures per account and computer: one alert per fresh window of 5
    "Repeated logon failures for one account": 8,
    "Password guessed - failures followed by a logon from the same address": 1,
    "Security log cleared": 1,
    "PowerShell started with an encoded command": 1,
    "Service installed from a public or temporary folder": 1,
    # The same service runs %COMSPEC% /c: the shell-service rule sees it too
    "Service installed that runs a shell, a pipe trick or a program in the Windows folder root": 1,
    "PowerShell script block downloads and runs code": 1,
}
assert dict(n) == want, dict(n)
crit = [a for a in alerts if a["level"] == "critical"]
assert len(crit) == 1 and crit[0].get("type") == "correlation", crit
assert crit[0]["fields"] == {"IpAddress": "203.0.113.45"}, crit[0]["fields"]
enc = [a for a in alerts if a["rule"].startswith("PowerShell started")][0]
assert "CommandLine" in enc["fields"] and "Image" in enc["fields"], enc["fields"]
PY
# A tiny correlation budget spills every input to disk: the alerts must not change.
"$vaern" hunt --no-cache -f jsonl --correlation-memory 1K --stats "$tmp/s" >"$tmp/o.jsonl" 2>"$tmp/st"
cmp -s "$tmp/one.jsonl" "$tmp/o.jsonl" && grep -q 'spilled [1-9][0-9]* runs' "$tmp/st" && ok ||
    bad "output differs with a spilling correlation budget, or nothing spilled: $(grep correlations "$tmp/st")"
for opt in "-t 2" "--prefilter off" "--prefilter automaton"; do
    "$vaern" hunt --no-cache -f jsonl $opt "$tmp/s" >"$tmp/o.jsonl" 2>/dev/null
    cmp -s "$tmp/one.jsonl" "$tmp/o.jsonl" && ok || bad "output differs with $opt"
done
"$vaern" hunt --no-cache -f csv "$tmp/s" >"$tmp/a.csv" 2>/dev/null
[ "$(($(wc -l <"$tmp/a.csv") - 1))" = "$(wc -l <"$tmp/one.jsonl")" ] && ok || bad "csv rows != jsonl lines"
head -1 "$tmp/a.csv" | grep -q '^time,level,rule,id,' && ok || bad "csv header"
"$vaern" hunt --no-cache -f table --color never "$tmp/s" >"$tmp/t.txt" 2>/dev/null
grep -q 'critical.*Password guessed' "$tmp/t.txt" && ok || bad "table lacks the critical alert"
! grep -q $'\x1b' "$tmp/t.txt" && ok || bad "escape sequences with --color never"
"$vaern" hunt --no-cache -f jsonl --min-level critical "$tmp/s" 2>/dev/null | grep -c . >"$tmp/n"
[ "$(cat "$tmp/n")" = 1 ] && ok || bad "--min-level critical gave $(cat "$tmp/n") alerts"
"$vaern" hunt --no-pack "$tmp/s" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok || bad "--no-pack without --rules: exit $rc, want 2"
"$vaern" hunt --no-cache "$tmp/s" "$tmp/missing.evtx" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok || bad "a missing input: exit $rc, want 1"
# A rule without a level alerts like any other (unless --min-level asks for a level).
printf 'title: No level\nlogsource: {product: windows, service: security}\ndetection: {s: {EventID: 4625}, condition: s}\n' \
    >"$tmp/nolevel.yml"
n=$("$vaern" hunt --no-cache --no-pack -f jsonl -r "$tmp/nolevel.yml" "$tmp/s" 2>/dev/null | grep -c .)
[ "$n" = 40 ] && ok || bad "a rule without a level gave $n alerts, want 40"
n=$("$vaern" hunt --no-cache --no-pack -f jsonl -r "$tmp/nolevel.yml" --min-level low "$tmp/s" 2>/dev/null | grep -c .)
[ "$n" = 0 ] && ok || bad "a rule without a level under --min-level low gave $n alerts, want 0"
pack=$(dirname "$0")/../../rules/vaern
"$vaern" rules check --compile "$pack" >"$tmp/rc.txt" 2>&1; rc=$?
# The pack grows; what must hold is that every rule of it compiles.
[ $rc = 0 ] && grep -Eq 'compiled for hunting: [1-9][0-9]* detection rules, [0-9]+ correlations, 0 filters; 0 left out' \
    "$tmp/rc.txt" && ok || bad "rules check --compile on the pack: exit $rc, $(tail -1 "$tmp/rc.txt")"
printf 'title: L\nlogsource: {product: linux, service: auth}\ndetection: {s: {a: b}, condition: s}\n' \
    >"$tmp/linux.yml"
"$vaern" rules check --compile "$tmp/linux.yml" >"$tmp/rc.txt" 2>&1
grep -q "1  VA_EUNSUPPORTED: logsource 'auth' is not in the mapping" "$tmp/rc.txt" && ok ||
    bad "rules check --compile does not explain a rule left out: $(cat "$tmp/rc.txt")"
finish hunt_sample
