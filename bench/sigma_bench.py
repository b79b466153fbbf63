#!/usr/bin/env python3
"""Sigma hunting benchmark: `vaern hunt` against Debian's evtxexport, measured in the same run.

1. Matching cost per event with 100, 1,000 and all rules: `vaern hunt -t 1` over the shared
   EVTX set with rule subsets (evenly spaced over the sorted Windows rules) and with no rules at
   all; the matching cost is the hunt phase (`--stats`, after the rules are compiled) minus that
   of the run without rules, divided by the events.  Target: all rules at most 3x the cost of 100.
2. End to end: `vaern hunt` with every rule folder over the shared EVTX set (start-up, rule
   loading and compiling included) against evtxexport merely exporting the same files (one
   process per file, its only mode).  Target: at least 30x faster than the bare export.  The
   main rows use a database cache (a rule set's Hyperscan database is compiled once, by the
   first run); the rows below show a cold compile, the own automaton and no prefilter.

3. A generated file of --big-records records (default 1,000,000; `vaern-gen-evtx big`) hunted
   with every rule on 1 thread and on 2: events per second per core (the hunt phase, and the
   whole run with start-up), peak memory (GNU time's max RSS), against evtxexport exporting the
   same file once.  Target: at least 100,000 events/s per core.

Timings are the best of --runs runs (wall clock).  Skips with a message where the shared data or
evtxexport is absent.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evtx_bench import DATA, evtx_files, timed  # noqa: E402


def rule_dirs(data):
    root = os.path.join(data, "sigma")
    return sorted(os.path.join(root, d) for d in os.listdir(root) if d.startswith("rules"))


def windows_rules(data):
    out = []
    for d, _, names in os.walk(os.path.join(data, "sigma", "rules", "windows")):
        out += [os.path.join(d, n) for n in names if n.endswith(".yml")]
    return sorted(out)


def subset_dir(tmp, rules, n):
    """A folder of symlinks to n rules spread evenly over the list (same order)."""
    d = os.path.join(tmp, f"rules{n}")
    os.mkdir(d)
    step = len(rules) / n
    for i in range(n):
        src = rules[int(i * step)]
        os.symlink(src, os.path.join(d, f"{i:05d}_{os.path.basename(src)}"))
    return d


def hunt(vaern, rule_args, files, threads, extra=()):
    # --no-pack: the rule counts are SigmaHQ's alone (vaern's pack adds 6 rules)
    cmd = [vaern, "hunt", "-q", "--stats", "-f", "jsonl", "-o", os.devnull, "--no-summary",
           "--no-pack"]
    cmd += rule_args + list(extra)
    if threads:
        cmd += ["-t", str(threads)]
    return cmd + files


def stats_of(cmd):
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = {}
    m = re.search(r"(\d+) rules compiled", p.stderr)
    out["rules"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) events, (\d+) alerts", p.stderr)
    out["events"], out["alerts"] = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    m = re.search(r"load ([\d.]+) s, compile ([\d.]+) s, hunt ([\d.]+) s", p.stderr)
    if m:
        out["load"], out["compile"], out["hunt"] = map(float, m.groups())
    m = re.search(r"rules evaluated (\d+), skipped (\d+)", p.stderr)
    if m:
        out["evaluated"], out["skipped"] = map(int, m.groups())
    return out


def best_stats(cmd, runs):
    best = None
    for _ in range(runs):
        s = stats_of(cmd)
        if best is None or s.get("hunt", 1e9) < best.get("hunt", 1e9):
            best = s
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vaern", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--gen", help="vaern-gen-evtx, for the generated big file")
    ap.add_argument("--big-records", type=int, default=1000000)
    a = ap.parse_args()
    files = evtx_files(a.data) if os.path.isdir(a.data) else []
    if not files or not os.path.isdir(os.path.join(a.data, "sigma", "rules")):
        print(f"SKIP sigma benchmark: shared data not found at {a.data}")
        return 0
    all_args = []
    for d in rule_dirs(a.data):
        all_args += ["--rules", d]
    print(f"\n== Sigma: matching cost per event (1 thread, {len(files)} files, best of {a.runs})")
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "none")
        os.mkdir(empty)
        win = windows_rules(a.data)
        sets = [("no rules", ["--rules", empty])]
        for n in (100, 1000):
            sets.append((f"{n} rules", ["--rules", subset_dir(tmp, win, n)]))
        sets.append(("all rules", all_args))
        base = None
        rows = []
        for name, args in sets:
            s = best_stats(hunt(a.vaern, args, files, 1), a.runs)
            if base is None:
                base = s
            cost = (s["hunt"] - base["hunt"]) / max(s["events"], 1) * 1e6
            rows.append((name, s, cost))
            print(f"{name:10s} {s['rules']:5d} compiled  hunt {s['hunt']:.3f} s  "
                  f"(load {s['load']:.3f} s, compile {s['compile']:.3f} s)  "
                  f"matching {cost:6.2f} us/event  rules evaluated/event "
                  f"{s.get('evaluated', 0) / max(s['events'], 1):6.2f}  alerts {s['alerts']}")
        c100 = rows[1][2]
        call = rows[3][2]
        ratio = call / c100 if c100 > 0 else float("inf")
        print(f"all rules / 100 rules matching cost: x{ratio:.2f} (target: at most x3)")

    print(f"\n== Sigma: vaern hunt with every rule against evtxexport exporting the same files")
    if not shutil.which("evtxexport"):
        print("SKIP: evtxexport (libevtx-utils) not installed")
        return 0
    t_ref = timed([["evtxexport", f] for f in files], a.runs)
    print(f"{'evtxexport (text, one process per file)':46s} {t_ref:7.3f} s  x  1.0")
    cache = os.path.join(tempfile.gettempdir(), "vaern-bench-cache")
    for label, threads, extra in (
            ("vaern hunt, all rules, 2 threads", 2, ("--cache", cache)),
            ("vaern hunt, all rules, 1 thread", 1, ("--cache", cache)),
            ("  no database cache (Hyperscan compiles)", 2, ("--no-cache",)),
            ("  prefilter automaton, 2 threads", 2, ("--prefilter", "automaton")),
            ("  prefilter off, 2 threads", 2, ("--prefilter", "off"))):
        cmd = hunt(a.vaern, all_args, files, threads, extra)
        t = timed([cmd], a.runs)
        s = stats_of(cmd)
        print(f"{label:46s} {t:7.3f} s  x{t_ref / t:5.1f}   (load {s['load']:.3f} s, compile "
              f"{s['compile']:.3f} s, hunt {s['hunt']:.3f} s; {s['events']} events, "
              f"{s['alerts']} alerts)")
    if a.gen:
        big_file(a, all_args, cache)
    return 0


def peak_rss(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return int(p.stderr.strip().splitlines()[-1]) / 1024.0


def big_file(a, all_args, cache):
    n = a.big_records
    print(f"\n== Sigma: every rule over one generated file of {n:,} records")
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "big.evtx")
        subprocess.run([a.gen, "big", f, "--records", str(n)], check=True,
                       stdout=subprocess.DEVNULL)
        mb = os.path.getsize(f) / 1e6
        t_ref = timed([["evtxexport", f]], 1)
        print(f"{'evtxexport (text, once)':40s} {t_ref:8.3f} s  {n / t_ref:10,.0f} rec/s  "
              f"({mb:.0f} MB)  x  1.0")
        for threads in (1, 2):
            cmd = hunt(a.vaern, all_args, [f], threads, ("--cache", cache))
            t = timed([cmd], a.runs)
            s = best_stats(cmd, a.runs)
            rss = peak_rss(cmd)
            per_core = s["events"] / s["hunt"] / threads if s.get("hunt") else 0
            print(f"{'vaern hunt, all rules, %d thread%s' % (threads, 's' if threads > 1 else ''):40s}"
                  f" {t:8.3f} s  {s['events'] / t:10,.0f} ev/s  x{t_ref / t:5.1f}   hunt phase "
                  f"{s['hunt']:.3f} s = {per_core:,.0f} events/s per core; peak RSS {rss:.1f} MiB;"
                  f" {s['alerts']} alerts, rules evaluated/event "
                  f"{s.get('evaluated', 0) / max(s['events'], 1):.2f}")


if __name__ == "__main__":
    sys.exit(main())
