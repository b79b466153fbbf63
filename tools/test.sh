#!/usr/bin/env bash
# tools/test.sh - build and run every test: unit tests and the shared-data tests (gcc Release,
# gcc ASan+UBSan and clang builds), the fuzzers for a short time each, and the style check.
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
