#!/usr/bin/env python3
"""Correlation benchmark: a brute force behind a password spray, at full size (issue 12).

`vaern-gen-evtx spray` writes 3,000,000 failed network logons (Security 4625, LogonType 3) from
3,000,000 distinct addresses, 10 ms apart (8 h 20 min of log), then 20 failures from one
address.  `vaern hunt` with the built-in pack feeds every failure to the correlations and
flushes them once, at the end, so the waiting matches (about 130 MB of them) pass the memory
budget and are spilled to sorted runs on disk and merged back.  The brute force must raise its
two alerts (one per fresh window of ten failures), and the whole process must stay under
100 MiB peak RSS (GNU time's %M).  Prints wall time and peak RSS; exits 1 if either check
fails.  The file (1.3 GB) is written to a temporary directory ($TMPDIR) and removed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

LIMIT_MIB = 100
GNU_TIME = "/usr/bin/time"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vaern", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--data", help="unused (the input is generated)")
    ap.add_argument("--records", type=int, default=3000000)
    args = ap.parse_args()
    if not os.access(GNU_TIME, os.X_OK):
        print(f"correlation bench: SKIP: {GNU_TIME} (Debian package time) is missing")
        return 0
    tmp = tempfile.mkdtemp(prefix="vaern-corr-bench-")
    try:
        path = os.path.join(tmp, "spray.evtx")
        t0 = time.perf_counter()
        subprocess.run([args.gen, "spray", path, "--records", str(args.records), "--burst", "20"],
                       check=True)
        gen_s = time.perf_counter() - t0
        size = os.path.getsize(path)
        out = os.path.join(tmp, "alerts.jsonl")
        cmd = [GNU_TIME, "-f", "%e %M", args.vaern, "hunt", "--no-cache", "--no-progress",
               "--no-summary", "-f", "jsonl", "-o", out, path]
        best, peak, err = None, 0, ""
        for _ in range(max(1, args.runs)):
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            err = p.stderr
            if p.returncode:
                print(f"correlation bench: FAIL: vaern hunt exited {p.returncode}:\n{err}")
                return 1
            wall, rss_kb = err.strip().splitlines()[-1].split()
            best = float(wall) if best is None else min(best, float(wall))
            peak = max(peak, int(rss_kb))
        alerts = [json.loads(line) for line in open(out)]
        found = [a for a in alerts if a.get("fields") == {"IpAddress": "203.0.113.77"}
                 and a["rule"] == "Password guessing from one address"]
        problems = [l for l in err.splitlines() if "VA_E" in l]
        events = args.records + 20
        print(f"correlation bench: password spray of {args.records:,} addresses + brute force "
              f"of 20, 10 ms apart ({size / 1e9:.2f} GB EVTX, generated in {gen_s:.1f} s)")
        print(f"  vaern hunt (built-in pack): {best:.2f} s wall (best of {max(1, args.runs)}), "
              f"{events / best / 1e6:.2f} M events/s, peak RSS {peak / 1024:.1f} MiB "
              f"(limit {LIMIT_MIB} MiB)")
        print(f"  alerts: {len(alerts)}, brute force: {len(found)} (want 2); "
              f"warnings: {len(problems)}")
        for line in problems:
            print(f"    {line}")
        ok = len(found) == 2 and not problems and peak / 1024 < LIMIT_MIB
        print(f"correlation bench: {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
