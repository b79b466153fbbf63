#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] - build the libFuzzer targets with clang and run each for SECONDS
# (default 20) on a corpus seeded with the generated fixtures (and the shared EVTX samples
# when ../shared/data is present).  Exits non-zero if any fuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DVAERN_FUZZ=ON -DVAERN_TESTS=OFF -DVAERN_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
seeds=build-fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds/evtx" "$seeds/chunk" "$seeds/json" "$seeds/rule" "$seeds/cond" \
    "$seeds/empty" "$seeds/value" "$seeds/ph"
cp config/sigma/placeholders.yml "$seeds/ph/"
# fuzz_sigma_value: kind byte, subject type byte, "modifiers\nvalue[\x01value]\nsubject"
i=0
while IFS= read -r line; do
    printf '\000\001%b' "$line" >"$seeds/value/$i"
    i=$((i + 1))
done <<'SEEDS'
contains\n\\cmd.exe\x01*powershell*\nC:\\Windows\\System32\\CMD.EXE /c
re\n(?i)net(\\.exe)?\\s+user\\s+/dom(ain)?\nNET.exe user /DOMAIN
re|i\nab{2,}c[0-9]+d?e\nABBBC7E
re\n\\+.*\\+.*\\+.*,.*,\na+b+c+,d,
windash|contains\n -enc \npowershell /enc AAA
base64offset|contains\nhttp://\naHR0cDovL
utf16le|base64offset|contains\nIEX\nSQBFAFgA
contains|all\nalpha\x01beta\nbeta and alpha
endswith\n\\Temp\\?.exe\nC:\\Temp\\a.exe
cased\nCmd\ncmd
contains\n\xc3\x89t\xc3\xa9\n\xc3\xa9T\xc3\x89
SEEDS
if [ -x build-fuzz/vaern-gen-evtx ]; then build-fuzz/vaern-gen-evtx fixtures "$seeds/evtx" >/dev/null; fi
shared=../shared/data
if [ -d "$shared/evtx-benign" ]; then
    ls "$shared"/evtx-benign/*.evtx | head -8 | while read -r f; do cp "$f" "$seeds/evtx/"; done
fi
for f in "$seeds"/evtx/*.evtx; do
    [ -e "$f" ] || continue
    dd if="$f" of="$seeds/chunk/$(basename "$f").chunk" bs=4096 skip=1 count=16 2>/dev/null || true
done
if [ -d "$shared/winevents-json" ]; then
    for f in "$shared"/winevents-json/*.json; do head -c 4000 "$f" > "$seeds/json/$(basename "$f")"; done
fi
if [ -d "$shared/sigma/rules" ]; then
    find "$shared"/sigma/rules* -name '*.yml' | sort | awk 'NR % 75 == 1' | while read -r f; do
        cp "$f" "$seeds/rule/"
        grep -m1 -E '^ +condition:' "$f" | sed -E 's/^ +condition: *//' >"$seeds/cond/$(basename "$f").txt"
    done
fi
# fuzz_sigma_hunt: rules, "=====", JSON-lines events.  The pack's rules over the generated
# sample logs, and SigmaHQ regression rules over their own recordings where present.
mkdir -p "$seeds/hunt"
if [ -x build-fuzz/vaern-gen-evtx ] && [ -x build-fuzz/vaern ]; then
    build-fuzz/vaern-gen-evtx sample "$seeds/sample" >/dev/null 2>&1 || true
    build-fuzz/vaern dump "$seeds/sample" 2>/dev/null | head -c 30000 >"$seeds/sample.jsonl" || true
    for f in rules/vaern/*.yml; do
        { cat "$f"; printf '\n=====\n'; cat "$seeds/sample.jsonl"; } >"$seeds/hunt/$(basename "$f")"
    done
fi
# A keyword rule (literals needed anywhere) and a regex with a match limit to reach.
printf '%s\n' "title: K" "logsource: {product: windows}" "detection:" \
    "  kw: ['mimikatz', 'sekurlsa::']" "  re: {CommandLine|re: '(a+)+b'}" \
    "  condition: kw or re" "=====" \
    '{"Channel":"Security","EventID":4688,"CommandLine":"run sekurlsa::logonpasswords"}' \
    '{"Channel":"Security","EventID":4688,"CommandLine":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac ab"}' \
    >"$seeds/hunt/keywords.seed"
if [ -d "$shared/sigma/regression_data" ]; then
    find "$shared"/sigma/regression_data -name info.yml | sort | awk 'NR % 20 == 1' |
        while read -r info; do
            d=$(dirname "$info")
            rule=$shared/sigma/${d#"$shared"/sigma/regression_data/}.yml
            js=$(ls "$d"/*.json 2>/dev/null | head -1)
            [ -n "$js" ] && [ -f "$rule" ] || continue
            { cat "$rule"; printf '\n=====\n'; head -c 20000 "$js"; } \
                >"$seeds/hunt/$(basename "$d").seed"
        done
fi
fail=0
for fz in build-fuzz/fuzz/fuzz_*; do
    [ -x "$fz" ] || continue
    name=$(basename "$fz")
    case $name in
        fuzz_evtx_chunk) corpus=$seeds/chunk; maxlen=65536 ;;
        fuzz_evtx_*) corpus=$seeds/evtx; maxlen=300000 ;;
        fuzz_json*) corpus=$seeds/json; maxlen=65536 ;;
        fuzz_sigma_rule) corpus=$seeds/rule; maxlen=65536 ;;
        fuzz_sigma_cond) corpus=$seeds/cond; maxlen=4096 ;;
        fuzz_sigma_value) corpus=$seeds/value; maxlen=4096 ;;
        fuzz_sigma_placeholders) corpus=$seeds/ph; maxlen=4096 ;;
        fuzz_sigma_hunt) corpus=$seeds/hunt; maxlen=65536 ;;
        fuzz_sigma_*) corpus=$seeds/empty; maxlen=4096 ;;
        *) corpus=$seeds/evtx; maxlen=65536 ;;
    esac
    work=build-fuzz/corpus-$name
    mkdir -p "$work"
    if "$fz" -max_total_time="$secs" -max_len="$maxlen" -rss_limit_mb=4096 -timeout=10 \
            -artifact_prefix=build-fuzz/ "$work" "$corpus" >build-fuzz/$name.log 2>&1; then
        echo "fuzz: $name ok ($(grep -o 'Done [0-9]* runs' build-fuzz/$name.log))"
    else
        echo "fuzz: $name FAILED; see build-fuzz/$name.log"
        grep -E 'ERROR|SUMMARY' build-fuzz/$name.log | head -5
        fail=1
    fi
done
exit $fail
