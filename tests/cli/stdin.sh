#!/usr/bin/env bash
# tests/cli/stdin.sh VAERN GEN - "-" reads standard input (issue 12, item 9): `evtx dump -`,
# `dump -` (EVTX or JSON, told apart by the first bytes) and `hunt -` give what the same input
# as a file gives, from a pipe or a redirected file; reports name the input "-"; a wait on a
# quiet pipe ends on SIGTERM; "-" twice is a usage error; the top-level help shows --rules as
# optional.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"
export TMPDIR=$tmp # where EVTX from a pipe is kept (unlinked at once)

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
sec=$tmp/s/Security.evtx
# same WHAT WANT GOT: two outputs are identical.
same() { cmp -s "$2" "$3" && [ -s "$2" ] && ok || bad "$1: output differs from the file's ($(wc -l <"$3") lines, want $(wc -l <"$2"))"; }

"$vaern" evtx dump "$sec" >"$tmp/want" 2>/dev/null
"$vaern" evtx dump - <"$sec" >"$tmp/got" 2>"$tmp/err"; rc=$?
same "evtx dump - <file" "$tmp/want" "$tmp/got"
[ $rc = 0 ] && ok || bad "evtx dump - <file: exit $rc, $(cat "$tmp/err")"
cat "$sec" | "$vaern" evtx dump -t 2 - >"$tmp/got" 2>"$tmp/err"; rc=$?
same "evtx dump - from a pipe" "$tmp/want" "$tmp/got"
[ $rc = 0 ] && ok || bad "evtx dump - from a pipe: exit $rc, $(cat "$tmp/err")"
"$vaern" evtx dump --xml "$sec" >"$tmp/want" 2>/dev/null
cat "$sec" | "$vaern" evtx dump --xml - >"$tmp/got" 2>/dev/null
same "evtx dump --xml - from a pipe" "$tmp/want" "$tmp/got"
# Several inputs with - among them, in order.
"$vaern" evtx dump "$tmp/s/System.evtx" "$sec" "$tmp/s/Sysmon.evtx" >"$tmp/want" 2>/dev/null
cat "$sec" | "$vaern" evtx dump "$tmp/s/System.evtx" - "$tmp/s/Sysmon.evtx" >"$tmp/got" 2>/dev/null
same "evtx dump FILE - FILE" "$tmp/want" "$tmp/got"
[ -z "$(ls -A "$tmp" | grep -v '^s$\|^want$\|^got$\|^err$')" ] && ok || bad "a temporary file was left: $(ls "$tmp")"
# Reports name the input "-".
printf 'not an evtx file' | "$vaern" evtx dump - >/dev/null 2>"$tmp/err"; rc=$?
grep -q '^vaern: error: -: offset 0x0: VA_EFORMAT' "$tmp/err" && [ $rc = 1 ] && ok ||
    bad "evtx dump - of junk: exit $rc, $(cat "$tmp/err")"
cat "$sec" | "$vaern" evtx dump --stats - 2>"$tmp/err" >/dev/null
grep -q '^-: 80 records' "$tmp/err" && ok || bad "evtx dump --stats -: no line for -: $(cat "$tmp/err")"

# dump -: EVTX or JSON.
"$vaern" dump "$sec" >"$tmp/want" 2>/dev/null
cat "$sec" | "$vaern" dump - >"$tmp/got" 2>/dev/null
same "dump - of EVTX from a pipe" "$tmp/want" "$tmp/got"
"$vaern" dump - <"$sec" >"$tmp/got" 2>/dev/null
same "dump - <EVTX file" "$tmp/want" "$tmp/got"
cp "$tmp/want" "$tmp/events.jsonl"
"$vaern" dump "$tmp/events.jsonl" >"$tmp/want" 2>/dev/null
cat "$tmp/events.jsonl" | "$vaern" dump - >"$tmp/got" 2>"$tmp/err"; rc=$?
same "dump - of JSON from a pipe" "$tmp/want" "$tmp/got"
[ $rc = 0 ] && ok || bad "dump - of JSON: exit $rc, $(cat "$tmp/err")"
"$vaern" dump - <"$tmp/events.jsonl" >"$tmp/got" 2>/dev/null
same "dump - <JSON file" "$tmp/want" "$tmp/got"
printf '{"Event": {"System": {"EventID": 1}}}\n{"broken":\n' | "$vaern" dump - >/dev/null 2>"$tmp/err"; rc=$?
grep -q '^vaern: error: -: ' "$tmp/err" && [ $rc = 1 ] && ok || bad "dump - of bad JSON: exit $rc, $(cat "$tmp/err")"
"$vaern" dump - </dev/null >"$tmp/got" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && [ ! -s "$tmp/got" ] && ok || bad "dump - of nothing: exit $rc, $(cat "$tmp/err")"

# hunt -: the same alerts, with file "-".
"$vaern" hunt --no-cache -f jsonl "$sec" 2>/dev/null | sed "s|\"file\":\"$sec\"|\"file\":\"-\"|" >"$tmp/want"
cat "$sec" | "$vaern" hunt --no-cache -f jsonl - >"$tmp/got" 2>/dev/null
same "hunt - of EVTX" "$tmp/want" "$tmp/got"
"$vaern" hunt --no-cache -f jsonl "$tmp/events.jsonl" 2>/dev/null |
    sed "s|\"file\":\"$tmp/events.jsonl\"|\"file\":\"-\"|" >"$tmp/want"
cat "$tmp/events.jsonl" | "$vaern" hunt --no-cache -f jsonl - >"$tmp/got" 2>/dev/null
same "hunt - of JSON" "$tmp/want" "$tmp/got"

# A quiet pipe (a FIFO with a writer that sends nothing): SIGTERM ends the wait, with the
# message and 143.
mkfifo "$tmp/fifo"
exec 3<>"$tmp/fifo"
for cmd in "evtx dump" "dump"; do
    # shellcheck disable=SC2086
    "$vaern" $cmd - <"$tmp/fifo" >/dev/null 2>"$tmp/err" &
    pid=$!
    sleep 0.5
    kill -TERM $pid
    for ((i = 0; i < 200; i++)); do
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL $pid 2>/dev/null # it hung: the check below fails
    wait $pid
    rc=$?
    [ $rc = 143 ] && grep -q 'interrupted by SIGTERM' "$tmp/err" && ok ||
        bad "$cmd - on a quiet pipe: exit $rc (137: it hung), $(cat "$tmp/err")"
done
exec 3>&-

for cmd in "evtx dump" "dump" "hunt --no-cache"; do
    # shellcheck disable=SC2086
    "$vaern" $cmd - - <"$sec" >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc = 2 ] && grep -q 'only once' "$tmp/err" && ok || bad "$cmd - -: exit $rc, $(cat "$tmp/err")"
done
"$vaern" help >"$tmp/help"
grep -q 'hunt \[--rules P\]\.\.\. PATH' "$tmp/help" && ! grep -q 'hunt --rules' "$tmp/help" && ok ||
    bad "help shows --rules as required: $(grep hunt "$tmp/help")"
finish cli_stdin
