# tests/cli/lib.sh - what every command test shares, sourced after `set -uo pipefail`: a
# scratch folder $tmp removed on exit, and the pass/fail count (ok, bad MESSAGE, finish NAME).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# The summary line, and the exit status: 0 only if nothing failed.
finish() {
    echo "$1: $pass passed, $fail failed"
    [ $fail = 0 ]
}
