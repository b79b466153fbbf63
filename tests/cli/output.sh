#!/usr/bin/env bash
# tests/cli/output.sh VAERN GEN - an output that cannot be created or written (issue 12, item 5):
# every command reports the system's real reason (not errno overwritten by a later call) and
# exits 3 (docs/cli.md), and hunt says so before loading and compiling any rule.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
for cmd in "hunt --no-cache" "dump" "evtx dump"; do
    # shellcheck disable=SC2086
    "$vaern" $cmd -o /nonexistent/dir/x "$tmp/s" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc = 3 ] && grep -q '^vaern: cannot create /nonexistent/dir/x: No such file or directory$' "$tmp/err" &&
        ok || bad "$cmd -o /nonexistent/dir/x: exit $rc, $(cat "$tmp/err")"
    ! grep -q 'compiled' "$tmp/err" && ok || bad "$cmd: loaded rules before opening the output"
    # shellcheck disable=SC2086
    "$vaern" $cmd -o "$tmp" "$tmp/s" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc = 3 ] && grep -q "^vaern: cannot create $tmp: Is a directory$" "$tmp/err" && ok ||
        bad "$cmd -o DIR: exit $rc, $(cat "$tmp/err")"
    if [ -w /dev/full ]; then
        # shellcheck disable=SC2086
        "$vaern" $cmd -o /dev/full "$tmp/s" >/dev/null 2>"$tmp/err"
        rc=$?
        [ $rc = 3 ] && grep -q 'No space left on device' "$tmp/err" && ok ||
            bad "$cmd -o /dev/full: exit $rc, $(cat "$tmp/err")"
        # shellcheck disable=SC2086
        "$vaern" $cmd "$tmp/s" >/dev/full 2>"$tmp/err"
        rc=$?
        [ $rc = 3 ] && grep -q 'No space left on device' "$tmp/err" && ok ||
            bad "$cmd >/dev/full: exit $rc, $(cat "$tmp/err")"
    fi
done
# A command-line mistake found before the output is opened leaves an existing file alone.
echo keep >"$tmp/keep"
"$vaern" hunt --logsources "$tmp/missing.yml" -o "$tmp/keep" "$tmp/s" >/dev/null 2>&1
rc=$?
[ $rc = 2 ] && [ "$(cat "$tmp/keep")" = keep ] && ok || bad "hunt --logsources typo -o F: exit $rc, F changed"
finish cli_output
