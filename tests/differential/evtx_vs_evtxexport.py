#!/usr/bin/env python3
"""Differential test: vaern's EVTX reader against Debian's evtxexport (libevtx).

For every .evtx under the shared data folders, both tools print each record as XML
(`evtxexport -f xml`, `vaern evtx dump --xml`).  Wherever evtxexport reads a file, vaern must
yield the same records with the same text.  Files evtxexport cannot read are listed in
tests/differential/libevtx_unreadable.txt: the test checks that the list is still exactly the
set evtxexport fails on, and that vaern reads every one of those files without a bad record
(their content is checked against JSON copies by a separate test where copies exist).

usage: evtx_vs_evtxexport.py VAERN DATA_DIR [--list FILE] [--jobs N]
Prints one line per failing file and a closing 'N passed, N failed' line.
"""
import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDERS = ["evtx", "evtx-benign", "sigma/regression_data"]


def unescape(text):
    """evtxexport escapes '&' in text but leaves '<' and '>' raw (not well-formed XML), while
    vaern escapes all three; compare the text after resolving the predefined entities."""
    for ent, ch in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
        text = text.replace(ent, ch)
    return text


WS_ONLY = re.compile(r"<(?P<n>[\w:]+)(?P<a>[^<>]*)>\s+</(?P=n)>")
RENDERING = re.compile(r"\n *<RenderingInfo[ >].*?</RenderingInfo>", re.S)


def normalise(rec, other):
    """Known, named divergences of libevtx 20181227, each checked against python-evtx:
    - element text that is only white space is printed as an empty element by evtxexport;
    - <RenderingInfo> carried in a record's embedded binary XML is left out by evtxexport
      (and by python-evtx); vaern keeps it.  Only dropped when the other side lacks it."""
    rec = WS_ONLY.sub(lambda m: "<%s%s/>" % (m.group("n"), m.group("a")), rec)
    if "<RenderingInfo" not in other:
        rec = RENDERING.sub("", rec)
    return rec


PYEVTX = """
import sys, re
import Evtx.Evtx as evtx
with evtx.Evtx(sys.argv[1]) as log:
    for r in log.records():
        x = r.xml()
        print(r.record_num(), re.search(r"<EventID[^>]*>(\\d+)<", x).group(1))
"""


def record_ids(rec):
    rid = re.search(r"<EventRecordID>(\d+)<", rec)
    eid = re.search(r"<EventID[^>]*>(\d+)<", rec)
    return (int(rid.group(1)) if rid else -1, int(eid.group(1)) if eid else -1)


def python_evtx_ids(path):
    """(record id, event id) per record as python-evtx reads them, or None if unavailable."""
    py = "/usr/bin/python3"
    if not os.path.exists(py):
        return None
    p = subprocess.run([py, "-c", PYEVTX, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return None
    return [tuple(int(x) for x in line.split()) for line in p.stdout.splitlines()]


def split_records(text):
    """Records are separated by blank lines after </Event>."""
    parts = text.split("</Event>\n\n")
    return [p + "</Event>" for p in parts if p.strip()]


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), p.stderr.decode("utf-8", "replace")


def check(vaern, data, rel, unreadable):
    path = os.path.join(data, rel)
    rc_e, out_e, _ = run(["evtxexport", "-f", "xml", path])
    rc_v, out_v, err_v = run([vaern, "evtx", "dump", "--xml", "--threads", "1", path])
    if rc_v not in (0, 1):
        return False, f"{rel}: vaern exited {rc_v}: {err_v.strip()[:300]}"
    if rc_e != 0:
        if rel not in unreadable:
            return False, f"{rel}: evtxexport fails on it but it is not in the list of unreadable files"
        recs = split_records(out_v)
        if not recs:
            return False, f"{rel}: evtxexport cannot read it and vaern found no records either"
        bad = [l for l in err_v.splitlines() if "record" in l and "skipped" in l]
        if bad:
            return False, f"{rel}: vaern skipped records: {bad[0][:300]}"
        # evtxexport prints the records before the one it fails on: those must agree.
        if out_e.startswith("evtxexport"):
            out_e = out_e.split("\n", 2)[2] if out_e.count("\n") >= 2 else ""
        partial = split_records(unescape(out_e))[:-1]  # the last one may be cut short
        for k, rec in enumerate(partial):
            if normalise(rec, recs[k]) != normalise(unescape(recs[k]), rec):
                return False, f"{rel}: record {k + 1} differs from evtxexport's partial output"
        # A second, independent reader: python-evtx (Debian's python3-evtx) must see the same
        # records, in the same order, with the same event IDs.
        ref = python_evtx_ids(path)
        mine = [record_ids(r) for r in recs]
        if ref is not None and ref != mine:
            return False, f"{rel}: python-evtx sees {len(ref)} records, vaern {len(mine)} (or IDs differ)"
        check = "python-evtx agrees" if ref is not None else "python-evtx cannot read it (or is absent)"
        return True, (f"{rel}: unreadable by evtxexport (it printed {len(partial)} records, equal); "
                      f"vaern read {len(recs)} records; {check}")
    if rel in unreadable:
        return False, f"{rel}: listed as unreadable but evtxexport read it"
    # evtxexport prints its name and version, then a blank line.
    head = "evtxexport"
    if out_e.startswith(head):
        out_e = out_e.split("\n", 2)[2] if out_e.count("\n") >= 2 else ""
    out_e, out_v = unescape(out_e), unescape(out_v)
    if out_e == out_v:
        return True, f"{rel}: {len(split_records(out_v))} records identical"
    re_, rv = split_records(out_e), split_records(out_v)
    # Where vaern reported damage it may recover records after the damaged one that evtxexport
    # drops with the rest of the chunk: evtxexport's records must then be an in-order
    # subsequence of vaern's.  Without a report, the record lists must be identical.
    damaged = any(("error:" in l or "warning:" in l) for l in err_v.splitlines())
    i = j = extra = 0
    first_diff = None
    while i < len(re_) and j < len(rv):
        a, b = normalise(re_[i], rv[j]), normalise(rv[j], re_[i])
        if a == b:
            i += 1
            j += 1
            continue
        if first_diff is None:
            first_diff = (i, a, b)
        if not damaged:
            break
        j += 1
        extra += 1
    extra += len(rv) - j
    if i == len(re_) and (extra == 0 or damaged):
        note = f"; vaern recovered {extra} more after reported damage" if extra else ""
        return True, f"{rel}: {len(re_)} records equal{note}"
    if first_diff is None:
        return False, f"{rel}: {len(re_)} records from evtxexport, {len(rv)} from vaern"
    k, a, b = first_diff
    al, bl = a.splitlines(), b.splitlines()
    for n, (x, y) in enumerate(zip(al, bl)):
        if x != y:
            return False, f"{rel}: record {k + 1} line {n + 1}:\n  evtxexport: {x[:200]}\n  vaern:      {y[:200]}"
    return False, f"{rel}: record {k + 1}: {len(al)} lines vs {len(bl)} lines"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vaern")
    ap.add_argument("data")
    ap.add_argument("--list", default=os.path.join(HERE, "libevtx_unreadable.txt"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        print(f"SKIP: shared data not found at {a.data}; differential test not run")
        return 77
    if not shutil.which("evtxexport"):
        print("SKIP: evtxexport (Debian package libevtx-utils) is not installed")
        return 77
    unreadable = set()
    with open(a.list) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                unreadable.add(line)
    files = []
    for folder in FOLDERS:
        for root, _, names in os.walk(os.path.join(a.data, folder)):
            for n in names:
                if n.lower().endswith(".evtx"):
                    files.append(os.path.relpath(os.path.join(root, n), a.data))
    files.sort()
    passed = failed = 0
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        for ok, msg in ex.map(lambda r: check(a.vaern, a.data, r, unreadable), files):
            if ok:
                passed += 1
                if a.verbose:
                    print("ok   " + msg)
            else:
                failed += 1
                print("FAIL " + msg)
    missing = unreadable - set(files)
    for m in sorted(missing):
        failed += 1
        print(f"FAIL {m}: listed as unreadable but not found")
    print(f"differential: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
