#!/usr/bin/env bash
# tests/cli/options.sh VAERN GEN - every option value of every command is checked: an unknown
# value (a level, format, colour, prefilter, thread count, ...) is refused with exit 2 and a
# message naming the option, before any work; good values are taken.  From issue 12, item 1:
# `vaern hunt --min-level hgih` used to filter nothing and exit 0.
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
printf 'title: R\nlogsource: {product: windows, service: security}\ndetection: {s: {EventID: 4625}, condition: s}\n' \
    >"$tmp/r.yml"

# refused CMD... : exit 2, a message naming WHAT on standard error, nothing on standard output.
refused() {
    local what=$1
    shift
    "$vaern" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc = 2 ] && grep -q -- "$what" "$tmp/err" && [ ! -s "$tmp/out" ]; then
        ok
    else
        bad "vaern $*: exit $rc (want 2), stderr: $(head -c 300 "$tmp/err")"
    fi
}
# taken CMD...: not a usage error.
taken() {
    "$vaern" "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    [ $rc != 2 ] && ok || bad "vaern $*: exit 2, $(head -c 300 "$tmp/err")"
}

h=(hunt --no-cache --no-progress)
for v in hgih '' 'high ' informative 5 -1; do refused --min-level "${h[@]}" --min-level "$v" "$tmp/s"; done
for v in informational low medium high critical HIGH; do taken "${h[@]}" --min-level "$v" "$tmp/s"; done
for v in xml json '' 'csv,'; do refused --format "${h[@]}" --format "$v" "$tmp/s"; done
for v in table jsonl csv; do taken "${h[@]}" -f "$v" "$tmp/s"; done
for v in yes 1 '' sometimes; do refused --color "${h[@]}" --color "$v" "$tmp/s"; done
for v in auto always never; do taken "${h[@]}" --color "$v" "$tmp/s"; done
for v in on hs '' AUTO; do refused --prefilter "${h[@]}" --prefilter "$v" "$tmp/s"; done
for v in auto automaton off; do taken "${h[@]}" --prefilter "$v" "$tmp/s"; done
for cmd in "${h[*]}" "dump" "evtx dump"; do
    for v in x '' -1 65 1.5 ' 2' '2 ' +2 0x2 99999999999999999999; do
        # shellcheck disable=SC2086
        refused --threads $cmd --threads "$v" "$tmp/s"
    done
    # shellcheck disable=SC2086
    for v in 0 1 64; do taken $cmd -t "$v" "$tmp/s"; done
done
refused --rules "${h[@]}" --no-pack "$tmp/s"
# --cache DIR: a directory, made if missing; a file or a path that cannot be made is refused.
refused --cache hunt --cache "$tmp/r.yml" "$tmp/s"
refused --cache hunt --cache "$tmp/no/such/dir" "$tmp/s"
taken hunt --cache "$tmp/cache" "$tmp/s"
[ -d "$tmp/cache" ] && ok || bad "--cache did not make its directory"
refused --placeholders "${h[@]}" --placeholders "$tmp/missing.yml" "$tmp/s"
refused --logsources "${h[@]}" --logsources "$tmp/missing.yml" "$tmp/s"
# rules check: the compile-only options without --compile would be ignored, so they are refused.
refused --compile rules check --logsources "$tmp/missing.yml" "$tmp/r.yml"
refused --compile rules check --placeholders "$tmp/missing.yml" "$tmp/r.yml"
refused --logsources rules check -c --logsources "$tmp/missing.yml" "$tmp/r.yml"
taken rules check -c "$tmp/r.yml"
# Unknown options and subcommands.
for cmd in "hunt" "dump" "evtx dump" "rules check"; do
    # shellcheck disable=SC2086
    refused 'usage' $cmd --no-such-option "$tmp/s"
done
refused 'unknown command' evtx nosuch "$tmp/s"
refused 'usage' rules nosuch "$tmp/r.yml"
refused 'unknown command' nosuch
finish cli_options
