#!/usr/bin/env bash
# tools/test.sh - build and run every test: unit tests and the shared-data tests (gcc Release,
# gcc ASan+UBSan and clang builds), the threaded tests under ThreadSanitizer, the fuzzers for
# a short time each, and the style check.
#
# VAERN_FUZZ_SECONDS (default 20) sets how long each fuzzer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
vaern_need $VAERN_TEST_PKGS
jobs=$(nproc)
fail=0
passed=0 failed=0 # checks: ctest tests of both builds, fuzzers, style

echo "== style (clang-format)"
bad=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
if [ "$bad" != 0 ]; then
    git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep 'warning:' | head -20
    echo "style: $bad lines differ from .clang-format (run: clang-format -i FILES)"
    fail=1 failed=$((failed + 1))
else
    echo "style: ok"
    passed=$((passed + 1))
fi

# gcc Release (as packagers build), gcc Debug under ASan+UBSan, clang with debug assertions.
for kind in release asan clang; do
    dir=build-test-$kind
    case $kind in
    release) flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc) ;;
    asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DVAERN_SANITIZE=ON) ;;
    clang) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang) ;;
    esac
    flags+=(-DVAERN_WERROR=ON)
    echo "== $kind build"
    cmake -S . -B "$dir" "${flags[@]}" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    echo "== $kind tests"
    (cd "$dir" && ctest --output-on-failure -j"$jobs") | tee "$dir/ctest.log" || true
    sum=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -1)
    total=$(echo "$sum" | sed -E 's/.* out of ([0-9]+).*/\1/')
    bad=$(echo "$sum" | sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/')
    if [ -z "$sum" ]; then fail=1 failed=$((failed + 1)); continue; fi
    passed=$((passed + total - bad)) failed=$((failed + bad))
    [ "$bad" = 0 ] || fail=1
done

# ThreadSanitizer over everything that runs threads (reading, loading, compiling, matching):
# the unit and command tests, then vaern itself over the shared EVTX set with every rule.  A
# race is written to a log file whatever the test does with the exit status; any log fails.
echo "== tsan build"
dir=build-test-tsan
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DVAERN_TSAN=ON \
    -DVAERN_WERROR=ON >/dev/null
cmake --build "$dir" -j"$jobs" >/dev/null
echo "== tsan tests"
rm -rf "$dir/tsan-logs" && mkdir -p "$dir/tsan-logs"
export TSAN_OPTIONS="log_path=$PWD/$dir/tsan-logs/race second_deadlock_stack=1"
# Left out: allocation-failure injection (it wraps malloc, which TSan intercepts) and the
# shared-data comparisons (many processes; the run below covers their threaded paths).
(cd "$dir" && ctest --output-on-failure -j"$jobs" \
    -E 'test_alloc_fail|evtx_differential|sigma_regression|pack_coverage|evtx_vs_json') |
    tee "$dir/ctest.log" || true
tsum=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -1)
data=../shared/data
if [ -d "$data/evtx" ] && [ -d "$data/sigma/rules" ]; then
    rules=()
    for r in "$data"/sigma/rules*; do [ -d "$r" ] && rules+=(-r "$r"); done
    "$dir/vaern" hunt "${rules[@]}" -t 2 -q --no-summary -f jsonl -o /dev/null \
        "$data/evtx" "$data/evtx-benign" 2>/dev/null || true
    "$dir/vaern" evtx dump -t 2 "$data/evtx" "$data/evtx-benign" >/dev/null 2>&1 || true
else
    echo "tsan: SKIP the shared-set runs: $data not found"
fi
unset TSAN_OPTIONS
races=$(find "$dir/tsan-logs" -type f | wc -l)
if [ -z "$tsum" ] || ! echo "$tsum" | grep -q ' 0 tests failed' || [ "$races" != 0 ]; then
    [ "$races" = 0 ] || { echo "tsan: $races reports:"; cat "$dir"/tsan-logs/* | head -60; }
    echo "tsan: FAILED"
    fail=1 failed=$((failed + 1))
else
    echo "tsan: ok (no race reported)"
    passed=$((passed + 1))
fi

echo "== fuzzers (${VAERN_FUZZ_SECONDS:-20} s each)"
fuzz/run.sh "${VAERN_FUZZ_SECONDS:-20}" | tee build-fuzz.log || true
passed=$((passed + $(grep -c '^fuzz: .* ok' build-fuzz.log)))
nbad=$(grep -c '^fuzz: .* FAILED' build-fuzz.log || true)
failed=$((failed + nbad))
[ "$nbad" = 0 ] || fail=1
rm -f build-fuzz.log

if [ $fail = 0 ]; then echo "vaern: all tests passed"; else echo "vaern: some tests FAILED"; fi
echo "$passed passed, $failed failed"
exit $fail
