#!/usr/bin/env bash
# tests/cli/escape.sh VAERN GEN - control characters and terminal escapes from file names and
# rules never reach the terminal raw (issue 12, item 6): diagnostics of every command, and
# `rules check` (-v, --compile), show them as visible escapes (\x1b, \u202e, ...).
set -uo pipefail
vaern=$1 gen=$2
. "$(dirname "$0")/lib.sh"

# clean WHAT FILE: FILE has no control character but newline, no C1 control and no bidi or
# line-separator control, and shows at least one escape.
clean() {
    if python3 - "$2" <<'PY'; then ok; else bad "$1: raw control characters: $(od -c "$2" | head -5)"; fi
import re, sys
data = open(sys.argv[1], "rb").read()
assert data, "no output"
text = data.decode("utf-8")  # must be valid UTF-8
bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F
       or ord(c) in (0x061C, 0x200E, 0x200F) or 0x2028 <= ord(c) <= 0x202E
       or 0x2066 <= ord(c) <= 0x2069]
assert not bad, "raw: %r" % bad[:5]
assert re.search(r"\\x1b|\\x07|\\u202e|\\u009b|\\r", text), "no visible escape in %r" % text[:300]
PY
}

"$gen" sample "$tmp/s" >/dev/null || { echo "FAIL: generator"; exit 1; }
esc=$'\e' bel=$'\a' cr=$'\r' rlo=$'\u202e' csi=$'\u009b'
evil="x${esc}]0;pwned${bel}${esc}[2J${cr}${rlo}${csi}31m"
mkdir -p "$tmp/d$evil"
printf 'not an evtx file' >"$tmp/d$evil/junk$evil.evtx"
printf '{"broken":' >"$tmp/d$evil/junk$evil.json"
ln -s .. "$tmp/d$evil/loop$evil"

for cmd in "evtx dump" "dump" "dump --stats" "evtx dump --stats" "hunt --no-cache"; do
    # shellcheck disable=SC2086
    "$vaern" $cmd "$tmp/d$evil" "$tmp/missing$evil.evtx" >/dev/null 2>"$tmp/err"
    clean "$cmd, diagnostics" "$tmp/err"
done
grep -q 'junk.*VA_EFORMAT' "$tmp/err" && grep -q 'directory loop' "$tmp/err" && ok ||
    bad "the diagnostics themselves are missing: $(cat "$tmp/err")"

# Rules: a title, an id, a logsource and a bad key with escapes, and a file name with them.
printf 'title: "T\\e]0;pwned\\a\\e[2J\\u202e"\nid: "a\\e[5m"\nlogsource: {product: windows, service: security}\ndetection: {s: {EventID: 1}, condition: s}\n' \
    >"$tmp/r$evil.yml"
printf 'title: "L\\e[31m"\nlogsource: {product: "lin\\e[1mux", service: auth}\ndetection: {s: {a: b}, condition: s}\n' \
    >"$tmp/linux.yml"
printf 'title: "B\\e[31m"\nlogsource: {product: windows}\ndetection: {s: {a: b}, condition: "s and \\e[31m"}\n' \
    >"$tmp/broken$evil.yml"
"$vaern" rules check -v "$tmp/r$evil.yml" "$tmp/broken$evil.yml" >"$tmp/out" 2>&1
clean "rules check -v" "$tmp/out"
grep -q '\\x1b\]0;pwned\\x07' "$tmp/out" && ok || bad "rules check -v does not show the title escaped: $(cat "$tmp/out")"
"$vaern" rules check -c "$tmp/linux.yml" "$tmp/r$evil.yml" >"$tmp/out" 2>&1
clean "rules check -c" "$tmp/out"
"$vaern" hunt --no-cache -r "$tmp/linux.yml" -r "$tmp/broken$evil.yml" "$tmp/s" >/dev/null 2>"$tmp/err"
clean "hunt, rules left out" "$tmp/err"
grep -q "logsource" "$tmp/err" && ok || bad "hunt does not report the rule left out: $(cat "$tmp/err")"
"$vaern" hunt --no-cache --logsources "$tmp/missing$evil.yml" "$tmp/s" >/dev/null 2>"$tmp/err"
clean "hunt --logsources" "$tmp/err"
"$vaern" nosuch$evil >/dev/null 2>"$tmp/err"
clean "unknown command" "$tmp/err"
finish cli_escape
