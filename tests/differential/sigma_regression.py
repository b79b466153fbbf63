#!/usr/bin/env python3
"""SigmaHQ's conformance suite: every rule with regression data must fire on its sample.

For each of the rules that carry `regression_tests_path` (their samples are under
DATA/sigma/regression_data, with an info.yml giving the expected match_count), hunt the
sample .evtx with that one rule and count its alerts; then the same for the .json copy.  A
test passes when the rule fires at least match_count times (at least once where none is
given).

usage: sigma_regression.py VAERN DATA_DIR [--verbose]
Prints one line per failure and a closing 'sigma_regression: N passed, M failed'.
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys


def rule_files(sigma):
    """id -> rule file, for every rule with regression_tests_path."""
    out = {}
    for folder in sorted(os.listdir(sigma)):
        if not folder.startswith("rules"):
            continue
        for root, _, names in os.walk(os.path.join(sigma, folder)):
            for n in names:
                if not n.endswith((".yml", ".yaml")):
                    continue
                p = os.path.join(root, n)
                text = open(p, encoding="utf-8", errors="replace").read()
                if "regression_tests_path" not in text:
                    continue
                m = re.search(r"^id:\s*([0-9a-fA-F-]{36})", text, re.M)
                if m:
                    out[m.group(1).lower()] = p
    return out


def expectations(info):
    text = open(info, encoding="utf-8").read()
    rid = re.search(r"rule_metadata:\s*\n\s*-\s*id:\s*([0-9a-fA-F-]{36})", text)
    count = re.search(r"^\s+match_count:\s*(\d+)", text, re.M)  # commented-out lines ignored
    return (rid.group(1).lower() if rid else None), int(count.group(1)) if count else 1


def hunt(vaern, rule, sample, rid):
    # --no-cache: 404 one-rule databases are not worth keeping; --no-pack: only the rule tested
    p = subprocess.run([vaern, "hunt", "-q", "--no-cache", "--no-pack", "-f", "jsonl", "--rules",
                        rule, sample], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n = sum(1 for line in p.stdout.splitlines() if json.loads(line).get("id", "").lower() == rid)
    return n, p.returncode, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vaern")
    ap.add_argument("data")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    sigma = os.path.join(a.data, "sigma")
    reg = os.path.join(sigma, "regression_data")
    if not os.path.isdir(reg):
        print(f"SKIP: {reg} is absent; Sigma regression test not run")
        return 77
    rules = rule_files(sigma)
    cases = []
    for root, _, names in os.walk(reg):
        if "info.yml" not in names:
            continue
        rid, want = expectations(os.path.join(root, "info.yml"))
        for n in sorted(names):
            if n.endswith((".evtx", ".json")):
                cases.append((rid, want, os.path.join(root, n)))
    cases.sort(key=lambda c: c[2])

    def run(case):
        rid, want, sample = case
        rel = os.path.relpath(sample, reg)
        if rid not in rules:
            return False, f"{rel}: no rule with id {rid} and regression_tests_path"
        got, rc, err = hunt(a.vaern, rules[rid], sample, rid)
        if rc not in (0, 1):
            return False, f"{rel}: vaern exited {rc}: {err.strip()[:200]}"
        if got < want:
            why = [l for l in err.splitlines() if "left out" not in l and "rules compiled" not in l
                   and "events," not in l]
            return False, f"{rel}: {got} alerts, want at least {want} {why[:1]}"
        return True, f"{rel}: {got} alerts (want {want})"

    passed = failed = 0
    with cf.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        for ok, msg in ex.map(run, cases):
            if ok:
                passed += 1
                if a.verbose:
                    print("ok   " + msg)
            else:
                failed += 1
                print("FAIL " + msg)
    print(f"sigma_regression: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
