#!/usr/bin/env bash
# tests/cli/rules.sh VAERN GEN - rule sets (issue 12, item 7): `rules check -c` exits 1 when it
# leaves rules out; a rule id carried by two rules is reported, with both files and lines, by
# `rules check` and `hunt` (exit 1); `hunt --rules` with a path that does not exist is a usage
# error (exit 2) before any work.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
rule() { # rule TITLE ID [SERVICE]
    printf 'title: %s\nid: %s\nlogsource: {product: windows, service: %s}\ndetection: {s: {EventID: 4625}, condition: s}\n' \
        "$1" "$2" "${3:-security}"
}
mkdir -p "$tmp/r/sub"
rule A 11111111-2222-3333-4444-aaaaaaaaaaaa >"$tmp/r/a.yml"
rule B 99999999-2222-3333-4444-555555555555 >"$tmp/r/b.yml"
# The same id again in a later file, in upper case, as the second document of the file.
{ rule C 00000000-2222-3333-4444-aaaaaaaaaaaa; echo '---'; rule D 11111111-2222-3333-4444-aaaaaaaaaaaa | sed '/^id:/s/: .*/\U&/'; } \
    >"$tmp/r/sub/c.yml"
rule E 99999999-2222-3333-4444-555555555555 >"$tmp/r/sub/e.yml"
rule F "" >"$tmp/r/sub/f.yml" # no id: not a duplicate of anything
rule G "" >"$tmp/r/sub/g.yml"

"$vaern" rules check "$tmp/r" >"$tmp/out" 2>&1
rc=$?
grep -q "^$tmp/r/sub/c.yml:6:1: duplicate rule id 11111111-2222-3333-4444-AAAAAAAAAAAA (D): also $tmp/r/a.yml:1:1 (A)$" "$tmp/out" &&
    grep -q "^$tmp/r/sub/e.yml:1:1: duplicate rule id 99999999-2222-3333-4444-555555555555 (E): also $tmp/r/b.yml:1:1 (B)$" "$tmp/out" &&
    [ "$(grep -c 'duplicate rule id' "$tmp/out")" = 2 ] && ok ||
    bad "rules check does not report the duplicate ids: $(cat "$tmp/out")"
grep -q '^rules: 7 loaded' "$tmp/out" && grep -q '^duplicate ids: 2' "$tmp/out" && [ $rc = 1 ] && ok ||
    bad "rules check with duplicate ids: exit $rc, $(cat "$tmp/out")"
"$vaern" hunt --no-cache --no-pack -f jsonl -r "$tmp/r" "$tmp/s" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$(grep -c 'duplicate rule id' "$tmp/err")" = 2 ] && grep -q "$tmp/r/sub/c.yml:6:1: .*also $tmp/r/a.yml:1:1" "$tmp/err" &&
    [ $rc = 1 ] && ok || bad "hunt with duplicate ids: exit $rc, $(cat "$tmp/err")"
# The pack given again as --rules: every pack rule is a duplicate.
pack=$(dirname "$0")/../../rules/vaern
"$vaern" hunt --no-cache -f jsonl -r "$pack" "$tmp/s" >/dev/null 2>"$tmp/err"
rc=$?
npack=$(cat "$pack"/*.yml | grep -c '^id:')
[ "$(grep -c 'duplicate rule id' "$tmp/err")" = "$npack" ] && [ $rc = 1 ] && ok ||
    bad "hunt -r rules/vaern with the pack: exit $rc, $(grep -c 'duplicate rule id' "$tmp/err") duplicates of $npack rules"
"$vaern" rules check "$pack" >/dev/null 2>&1 && ok || bad "rules check on the pack: exit $?"

# rules check -c: a rule left out is a failure.
rule L 22222222-2222-3333-4444-555555555555 nosuchservice >"$tmp/left.yml"
"$vaern" rules check -c "$tmp/left.yml" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q '; 1 left out' "$tmp/out" && ok || bad "rules check -c, 1 left out: exit $rc, $(cat "$tmp/out")"
"$vaern" rules check -c "$tmp/r/a.yml" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && ok || bad "rules check -c, all compiled: exit $rc, $(cat "$tmp/out")"

# hunt --rules PATH that does not exist: exit 2 before any work, like --logsources.
for args in "-r $tmp/typo" "-r $tmp/r -r $tmp/typo" "--no-pack -r $tmp/typo"; do
    # shellcheck disable=SC2086
    "$vaern" hunt --no-cache $args -o "$tmp/o" "$tmp/s" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc = 2 ] && grep -q "^vaern: --rules $tmp/typo: No such file or directory$" "$tmp/err" &&
        ! grep -q 'compiled' "$tmp/err" && [ ! -e "$tmp/o" ] && [ ! -s "$tmp/out" ] && ok ||
        bad "hunt $args: exit $rc, $(cat "$tmp/err")"
done
# The default cache under an $XDG_CACHE_HOME (or ~/.cache) that does not exist yet: the folders
# are made and the cache is written (it used to be silently not used).
XDG_CACHE_HOME="$tmp/new/xdg" "$vaern" hunt --no-pack -r "$tmp/r" -q "$tmp/s" >/dev/null 2>"$tmp/err"
ls "$tmp/new/xdg/vaern/"rules-*.yc >/dev/null 2>&1 && ok ||
    bad "default cache under a new XDG_CACHE_HOME: $(ls -R "$tmp/new" 2>&1) $(cat "$tmp/err")"
mkdir "$tmp/home"
env -u XDG_CACHE_HOME HOME="$tmp/home" "$vaern" hunt --no-pack -r "$tmp/r" -q "$tmp/s" >/dev/null 2>&1
ls "$tmp/home/.cache/vaern/"rules-*.yc >/dev/null 2>&1 && ok || bad "default cache under a new HOME"
# A HOME that does not exist (system users: /nonexistent) is not made.
env -u XDG_CACHE_HOME HOME="$tmp/nohome" "$vaern" hunt --no-pack -r "$tmp/r" -q "$tmp/s" >/dev/null 2>&1
[ ! -e "$tmp/nohome" ] && ok || bad "hunt made a HOME that did not exist"
finish cli_rules
