#!/usr/bin/env bash
# tests/cli/interrupt.sh VAERN GEN - SIGINT and SIGTERM during a long `vaern evtx dump`, `vaern
# dump` and `vaern hunt` (issue 12, item 4): reading stops, every output line is whole JSON (or
# every XML record whole), the message says where the output ends, and the exit status is 130
# (SIGINT) or 143 (SIGTERM).
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"
# Job control: without it a background job of a script starts with SIGINT ignored.
set -m

records=150000
"$gen" big "$tmp/big.evtx" --records $records >/dev/null || { echo "FAIL: generator"; exit 1; }
printf 'title: Logon\nlogsource: {product: windows, service: security}\ndetection: {s: {EventID: 4624}, condition: s}\n' \
    >"$tmp/logon.yml"

# interrupt SIG OUT CMD...: start CMD (which writes OUT), send SIG once output has begun, and
# leave the exit status in $rc and standard error in $tmp/err.
interrupt() {
    local sig=$1 out=$2
    shift 2
    rm -f "$out"
    "$@" 2>"$tmp/err" &
    local pid=$! i
    for ((i = 0; i < 400; i++)); do
        [ -s "$out" ] && break
        sleep 0.025
    done
    kill -"$sig" $pid 2>/dev/null
    wait $pid
    rc=$?
}

# whole_json FILE: every line parses as a JSON object; prints the count.
whole_json() {
    python3 - "$1" <<'PY'
import json, sys
n = 0
with open(sys.argv[1], "rb") as f:
    data = f.read()
assert not data or data.endswith(b"\n"), "last line not ended: %r" % data[-60:]
for i, line in enumerate(data.split(b"\n")[:-1]):
    obj = json.loads(line)
    assert isinstance(obj, dict), "line %d is not an object" % (i + 1)
    n += 1
print(n)
PY
}

check() { # check WHAT SIG WANT_RC OUT
    local what=$1 sig=$2 want=$3 out=$4 n
    if [ "$rc" != "$want" ]; then
        bad "$what, SIG$sig: exit $rc, want $want: $(tail -3 "$tmp/err")"
        return
    fi
    ok
    if n=$(whole_json "$out" 2>"$tmp/py"); then
        ok
    else
        bad "$what, SIG$sig: output not whole JSON lines: $(tail -1 "$tmp/py")"
        return
    fi
    grep -q "^vaern: interrupted by SIG$sig: output is complete up to " "$tmp/err" && ok ||
        bad "$what, SIG$sig: no message: $(tail -3 "$tmp/err")"
    # It did stop early (the test means nothing if the run had finished).
    [ "$n" -lt $records ] && ok || bad "$what, SIG$sig: $n lines: the run was not interrupted"
}

for sig in INT TERM; do
    want=$((128 + $(kill -l $sig)))
    interrupt $sig "$tmp/o.jsonl" "$vaern" evtx dump -t 1 -o "$tmp/o.jsonl" "$tmp/big.evtx"
    check "evtx dump -o" $sig $want "$tmp/o.jsonl"
    interrupt $sig "$tmp/o.jsonl" "$vaern" dump -t 1 -o "$tmp/o.jsonl" "$tmp/big.evtx"
    check "dump -o" $sig $want "$tmp/o.jsonl"
    interrupt $sig "$tmp/o.jsonl" "$vaern" hunt --no-cache --no-pack -r "$tmp/logon.yml" -t 1 \
        -f jsonl -o "$tmp/o.jsonl" "$tmp/big.evtx"
    check "hunt -o" $sig $want "$tmp/o.jsonl"
done
# Standard output redirected (stdio buffering, no -o), and JSON input.
"$vaern" dump "$tmp/big.evtx" 2>/dev/null | head -40000 >"$tmp/big.jsonl"
interrupt INT "$tmp/o.jsonl" sh -c 'exec "$0" dump -t 1 "$1" >"$2"' "$vaern" "$tmp/big.evtx" "$tmp/o.jsonl"
check "dump >file" INT 130 "$tmp/o.jsonl"
interrupt TERM "$tmp/o.jsonl" sh -c 'exec "$0" dump "$1" "$1" "$1" "$1" >"$2"' "$vaern" "$tmp/big.jsonl" \
    "$tmp/o.jsonl"
check "dump of JSON >file" TERM 143 "$tmp/o.jsonl"
# XML: every record whole.
interrupt INT "$tmp/o.xml" "$vaern" evtx dump --xml -t 1 -o "$tmp/o.xml" "$tmp/big.evtx"
opened=$(grep -c '^<Event ' "$tmp/o.xml")
closed=$(grep -c '^</Event>$' "$tmp/o.xml")
[ $rc = 130 ] && [ "$opened" = "$closed" ] && [ "$opened" -gt 0 ] && [ "$opened" -lt $records ] &&
    [ "$(tail -c 1 "$tmp/o.xml" | od -An -c | tr -d ' ')" = '\n' ] && ok ||
    bad "evtx dump --xml: exit $rc, $opened records opened, $closed closed"
finish cli_interrupt
