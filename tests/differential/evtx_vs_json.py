#!/usr/bin/env python3
"""evtx_vs_json.py - the same events from EVTX and from evtx_dump JSON give the same flat events.

SigmaHQ's regression data holds, for each rule, an .evtx file and its .json copy made by
omerbenamram's evtx_dump.  vaern reads the first with its EVTX reader and the second with its
JSON reader; both map into the flat event, so `vaern dump` must print the same fields with the
same values for each record.  Records are matched by EventRecordID.

usage: evtx_vs_json.py VAERN DATA_DIR
DATA_DIR is the shared data folder (containing sigma/regression_data) or that folder itself.
Exit 0 when every file pair agrees, 1 on any mismatch, 77 (skip) when the data is absent.
"""
import json
import os
import re
import subprocess
import sys

# A GUID with or without braces.
GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$")
# An ISO 8601 time with a fractional part.
ISO_FRAC = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z$")


# Differences in content, not presentation, between an .evtx file and its .json copy in the
# data set itself: each was checked against the .evtx bytes (the UTF-16 string is there as
# given) and against libevtx's evtxexport, which agrees with vaern's EVTX reader.  Only this
# exact pair of values is accepted for the named record and field; it is printed as KNOWN.
# (file relative to regression_data, EventRecordID, field, value in the EVTX, value in the JSON)
DATA_ERRATA = {
    ("rules/windows/process_creation/proc_creation_win_susp_right_to_left_override/"
     "ad691d92-15f2-4181-9aa4-723c74f9ddc3.evtx", 23419552, "ParentCommandLine",
     "C:\\Windows\\Explorer.EXE", "C:\\Windows\\Explorer.exe"),
}


def norm(name, v):
    """A value in the form both sources can agree on; each rule is a presentation difference."""
    # Numbers vs numeric strings: evtx_dump writes some integer types as JSON numbers where the
    # EVTX type renders as text (and the reverse); compare the text.  Booleans likewise.
    if isinstance(v, bool):
        v = "true" if v else "false"
    elif v is None:
        v = ""
    elif not isinstance(v, str):
        v = str(v)
    # Trailing white space: evtx_dump trims it from text values since evtx 0.8.5 (its fix for
    # omerbenamram/evtx#249); EVTX keeps it, as Windows does ("cmd.exe " in command lines).
    v = v.rstrip(" \t\r\n")
    # GUIDs: evtx_dump prints GuidType values without braces, EVTX rendering (like Windows)
    # with them; vaern puts the braces back only on the System GUIDs it knows to be GUIDs.
    if GUID.match(v):
        return v.strip("{}").lower()
    # TimeCreated: evtx_dump prints 6 fractional digits, EVTX carries 7 (100 ns ticks), so the
    # JSON copy has lost the last digit: compare at microsecond precision.
    if name == "TimeCreated":
        m = ISO_FRAC.match(v)
        if m:
            return m.group(1) + "." + (m.group(2) + "000000")[:6] + "Z"
    return v


def values(v):
    return v if isinstance(v, list) else [v]


def dump(vaern, path):
    """Events of one file from `vaern dump`, and the problems it reported."""
    p = subprocess.run([vaern, "dump", path], capture_output=True, text=True)
    events = []
    for line in p.stdout.splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events, p.returncode, p.stderr.strip()


def compare(rel, rid, ev_evtx, ev_json, problems, known):
    name = f"{rel}: record {rid}"
    ok = True
    for field in sorted(set(ev_evtx) | set(ev_json)):
        if field not in ev_json:
            problems.append(f"{name}: field {field} only from EVTX: {ev_evtx[field]!r}")
            ok = False
            continue
        if field not in ev_evtx:
            problems.append(f"{name}: field {field} only from JSON: {ev_json[field]!r}")
            ok = False
            continue
        a = [norm(field, x) for x in values(ev_evtx[field])]
        b = [norm(field, x) for x in values(ev_json[field])]
        if a != b and (rel, rid, field, ev_evtx[field], ev_json[field]) in DATA_ERRATA:
            known.append(f"{name}: field {field}: EVTX {ev_evtx[field]!r} vs JSON "
                         f"{ev_json[field]!r} (a difference in the data set's JSON copy)")
        elif a != b:
            problems.append(
                f"{name}: field {field}: EVTX {ev_evtx[field]!r} vs JSON {ev_json[field]!r}")
            ok = False
    return ok


def main():
    if len(sys.argv) != 3:
        print("usage: evtx_vs_json.py VAERN DATA_DIR", file=sys.stderr)
        return 2
    vaern, data = sys.argv[1], sys.argv[2]
    root = os.path.join(data, "sigma", "regression_data")
    if not os.path.isdir(root):
        root = data if os.path.basename(os.path.normpath(data)) == "regression_data" else root
    if not os.path.isdir(root):
        print(f"SKIP: {os.path.join(data, 'sigma', 'regression_data')} is absent")
        return 77
    pairs = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.lower().endswith(".evtx"):
                j = os.path.join(d, f[:-5] + ".json")
                if os.path.isfile(j):
                    pairs.append((os.path.join(d, f), j))
    pairs.sort()
    if not pairs:
        print(f"SKIP: no .evtx file with a .json copy under {root}")
        return 77
    passed = failed = 0
    for evtx, js in pairs:
        rel = os.path.relpath(evtx, root)
        problems, known = [], []
        a, rc_a, err_a = dump(vaern, evtx)
        b, rc_b, err_b = dump(vaern, js)
        if rc_a not in (0, 1) or rc_b not in (0, 1):
            problems.append(f"{rel}: vaern dump failed (EVTX exit {rc_a}, JSON exit {rc_b}): "
                            f"{err_a} {err_b}".strip())
        if rc_b != 0:
            problems.append(f"{rel}: JSON copy reported problems: {err_b}")
        by_id_a = {e.get("EventRecordID"): e for e in a}
        by_id_b = {e.get("EventRecordID"): e for e in b}
        if len(by_id_a) != len(a) or len(by_id_b) != len(b):
            problems.append(f"{rel}: repeated or missing EventRecordID "
                            f"({len(a)} EVTX events, {len(b)} JSON events)")
        if not a:
            problems.append(f"{rel}: no event from the EVTX file")
        for rid in sorted(set(by_id_a) | set(by_id_b), key=str):
            if rid not in by_id_b:
                problems.append(f"{rel}: record {rid} only in the EVTX file")
            elif rid not in by_id_a:
                problems.append(f"{rel}: record {rid} only in the JSON copy")
            else:
                compare(rel, rid, by_id_a[rid], by_id_b[rid], problems, known)
        for k in known:
            print("KNOWN " + k)
        if problems:
            failed += 1
            for p in problems:
                print("MISMATCH " + p)
        else:
            passed += 1
    print(f"evtx_vs_json: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
