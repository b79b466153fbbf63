#!/usr/bin/env bash
# tests/cli/walk.sh VAERN GEN - directory walks of inputs and rule folders (issue 12, items 2
# and 3): an unreadable subdirectory is reported with its path and reason and the rest of the
# tree is read; a symbolic-link loop is reported once as a warning naming the link, and every
# directory (so every file) is read once, with one loop or two, for inputs and rules alike.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT # unreadable folders too
# A hang is a failure, not a stuck test.
run() { timeout 60 "$@"; }

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
n_sec=$("$vaern" dump "$tmp/s/Security.evtx" | wc -l)
n_sys=$("$vaern" dump "$tmp/s/System.evtx" | wc -l)
n_mon=$("$vaern" dump "$tmp/s/Sysmon.evtx" | wc -l)
rule() { # rule FILE ID
    printf 'title: R %s\nid: %s\nlogsource: {product: windows, service: security}\ndetection: {s: {EventID: 4625}, condition: s}\n' \
        "$2" "$2" >"$1"
}

# Permissions do not stop root: drop the capabilities that bypass them, where we can.
lowpriv=()
can_deny=1
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null &&
        setpriv --bounding-set=-dac_override,-dac_read_search true 2>/dev/null; then
        lowpriv=(setpriv --bounding-set=-dac_override,-dac_read_search)
    else
        can_deny=0
        echo "note: running as root without setpriv: unreadable-directory checks skipped"
    fi
fi

# --- 2. an unreadable subdirectory: reported, the rest of the tree read ---------------------
if [ $can_deny = 1 ]; then
    t=$tmp/deny
    mkdir -p "$t/a" "$t/b" "$t/c" "$t/d/x"
    cp "$tmp/s/Security.evtx" "$t/a/"
    cp "$tmp/s/Sysmon.evtx" "$t/b/"
    cp "$tmp/s/System.evtx" "$t/c/"
    cp "$tmp/s/Sysmon.evtx" "$t/d/x/"
    chmod 000 "$t/b" # cannot be listed
    chmod 600 "$t/d" # listed, but what is in it cannot be looked at
    for cmd in "dump" "evtx dump"; do
        # shellcheck disable=SC2086
        run "${lowpriv[@]}" "$vaern" $cmd "$t" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        n=$(wc -l <"$tmp/out")
        [ "$n" = $((n_sec + n_sys)) ] && ok || bad "$cmd: $n events, want $((n_sec + n_sys)) (a and c)"
        grep -q "$t/b: VA_EIO: cannot read directory: Permission denied" "$tmp/err" && ok ||
            bad "$cmd: unreadable b not reported: $(cat "$tmp/err")"
        grep -q "$t/d/x: VA_EIO: cannot look at: Permission denied" "$tmp/err" && ok ||
            bad "$cmd: d/x not reported: $(cat "$tmp/err")"
        [ $rc = 1 ] && ok || bad "$cmd: exit $rc, want 1"
    done
    run "${lowpriv[@]}" "$vaern" hunt --no-cache -f jsonl "$t" >/dev/null 2>"$tmp/err"
    rc=$?
    grep -q "vaern: $((n_sec + n_sys)) events" "$tmp/err" && grep -q "$t/b: .*Permission denied" "$tmp/err" &&
        [ $rc = 1 ] && ok || bad "hunt: exit $rc, $(cat "$tmp/err")"
    r=$tmp/rdeny
    mkdir -p "$r/x" "$r/y" "$r/z"
    rule "$r/x/1.yml" 11111111-0000-0000-0000-000000000001
    rule "$r/y/2.yml" 11111111-0000-0000-0000-000000000002
    rule "$r/z/3.yml" 11111111-0000-0000-0000-000000000003
    chmod 000 "$r/y"
    run "${lowpriv[@]}" "$vaern" rules check "$r" >"$tmp/out" 2>&1
    rc=$?
    grep -q '^rules: 2 loaded' "$tmp/out" && grep -q "$r/y: .*Permission denied" "$tmp/out" &&
        [ $rc = 1 ] && ok || bad "rules check, unreadable folder: exit $rc, $(cat "$tmp/out")"
    run "${lowpriv[@]}" "$vaern" hunt --no-cache --no-pack -f jsonl --rules "$r" "$tmp/s" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    grep -q "$r/y: .*Permission denied" "$tmp/err" && grep -q '^vaern: 2 rules compiled' "$tmp/err" &&
        [ $rc = 1 ] && ok || bad "hunt --rules, unreadable folder: exit $rc, $(cat "$tmp/err")"
    chmod 755 "$t/b" "$t/d" "$r/y"
fi

# --- 3. symbolic-link loops: every directory once, each loop reported once -----------------
t=$tmp/loop1
mkdir -p "$t/a/b"
cp "$tmp/s/Security.evtx" "$t/a/"
cp "$tmp/s/System.evtx" "$t/a/b/"
ln -s .. "$t/a/b/up"
for cmd in "dump" "evtx dump"; do
    # shellcheck disable=SC2086
    run "$vaern" $cmd "$t" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    n=$(wc -l <"$tmp/out")
    [ "$n" = $((n_sec + n_sys)) ] && ok || bad "$cmd, one loop: $n events, want $((n_sec + n_sys)) (rc $rc)"
    [ "$(grep -c 'loop' "$tmp/err")" = 1 ] &&
        grep -q "warning: $t/a/b/up: VA_EIO: directory loop: this leads back to $t/a; not followed" "$tmp/err" &&
        ok || bad "$cmd, one loop: want one warning naming the link: $(head -c 600 "$tmp/err")"
done
t=$tmp/loop2
mkdir -p "$t/a"
cp "$tmp/s/Security.evtx" "$t/a/"
cp "$tmp/s/Sysmon.evtx" "$t/"
ln -s .. "$t/a/up"
ln -s "$t" "$t/a/top"
run "$vaern" dump "$t" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc != 124 ] && ok || bad "two loops: hung"
n=$(wc -l <"$tmp/out")
[ "$n" = $((n_sec + n_mon)) ] && [ "$(grep -c 'loop' "$tmp/err")" = 2 ] && ok ||
    bad "two loops: $n events, want $((n_sec + n_mon)); $(head -c 600 "$tmp/err")"
# Two links to one directory (not a loop): read once, nothing to report.
t=$tmp/twice
mkdir -p "$t/real"
cp "$tmp/s/Security.evtx" "$t/real/"
ln -s real "$t/latest"
run "$vaern" dump "$t" >"$tmp/out" 2>"$tmp/err"
rc=$?
n=$(wc -l <"$tmp/out")
[ "$n" = "$n_sec" ] && [ ! -s "$tmp/err" ] && [ $rc = 0 ] && ok ||
    bad "two links to a folder: $n events (want $n_sec), exit $rc: $(cat "$tmp/err")"
# Rule folders: the same walker.
r=$tmp/rloop
mkdir -p "$r/x"
rule "$r/x/1.yml" 22222222-0000-0000-0000-000000000001
rule "$r/2.yml" 22222222-0000-0000-0000-000000000002
ln -s .. "$r/x/up"
ln -s "$r" "$r/x/top"
run "$vaern" rules check "$r" >"$tmp/out" 2>&1
rc=$?
grep -q '^rules: 2 loaded' "$tmp/out" && [ "$(grep -c 'loop' "$tmp/out")" -ge 2 ] &&
    ! grep -q 'nested too deep' "$tmp/out" && [ "$(wc -l <"$tmp/out")" -lt 12 ] &&
    ok || bad "rules check, loops: exit $rc, $(head -c 800 "$tmp/out")"
run "$vaern" hunt --no-cache --no-pack -f jsonl --rules "$r" "$tmp/s" >/dev/null 2>"$tmp/err"
rc=$?
grep -q '^vaern: 2 rules compiled' "$tmp/err" && [ "$(grep -c 'loop' "$tmp/err")" = 2 ] &&
    [ "$(wc -l <"$tmp/err")" -lt 8 ] && ok || bad "hunt --rules, loops: exit $rc, $(head -c 800 "$tmp/err")"
finish cli_walk
