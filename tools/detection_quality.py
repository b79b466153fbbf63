#!/usr/bin/env python3
"""tools/detection_quality.py - the false-positive report, docs/detection-quality.md.

Usage:
    tools/detection_quality.py VAERN_BINARY SHARED_DATA_DIR [--out docs/detection-quality.md]

Hunts SHARED_DATA_DIR/evtx-benign with every SigmaHQ rule folder (SHARED_DATA_DIR/sigma/rules*/),
with --ignore-crc, and writes the generated part of the report: totals, the rules vaern left out
and why (from its standard-error summary), one section per high and critical rule that fires
(alerts, files, event IDs, the matched events' fields, the rule's own `falsepositives`), the
alerts that rest on a System field name repeated in EventData/UserData (a suspected engine
problem), and the medium/low/informational totals.

Hand-written text lives between markers

    <!-- analysis:KEY -->
    ...
    <!-- /analysis -->

(KEY is a rule id, or one of the section keys used below). Everything outside those markers is
regenerated; the text inside is carried over unchanged. Analysis for a rule that no longer fires
is kept in an "Analysis without a current alert" section at the end, so no prose is ever lost.

Python 3 standard library only. PyYAML is used when it is installed (python3-yaml); otherwise a
small line-based reader extracts what the report needs.

Exit codes: 0 report written; 2 bad command line or vaern not runnable; 3 vaern failed;
77 the shared data is absent (SKIP).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys

try:  # optional: the report does not depend on it
    import yaml  # type: ignore
except ImportError:  # pragma: no cover - depends on the host
    yaml = None

LEVELS = ["critical", "high", "medium", "low", "informational"]
TOP_N = 15
MAX_OTHER_FIELDS = 8  # EventData/UserData fields shown besides those the rule tests
SYSTEM_FIELDS = {
    "Provider_Name", "Provider_Guid", "EventID", "EventID_Qualifiers", "Version", "Level", "Task",
    "Opcode", "Keywords", "TimeCreated", "EventRecordID", "Correlation_ActivityID", "ProcessID",
    "ThreadID", "Channel", "Computer", "Security_UserID",
}

ANALYSIS_RE = re.compile(r"<!-- analysis:([A-Za-z0-9_.\-]+) -->\n?(.*?)<!-- /analysis -->", re.S)
PLACEHOLDER = "_No analysis yet._\n"


def die(code, msg):
    print("detection_quality: " + msg, file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------
# Running vaern and reading its output


def rule_dirs(shared):
    sigma = os.path.join(shared, "sigma")
    if not os.path.isdir(sigma):
        return []
    return sorted(
        os.path.join(sigma, d) for d in os.listdir(sigma)
        if d.startswith("rules") and os.path.isdir(os.path.join(sigma, d)))


def hunt_command(vaern, dirs, benign):
    cmd = [vaern, "hunt"]
    for d in dirs:
        cmd += ["--rules", d]
    cmd += ["--ignore-crc", benign]
    return cmd


def run(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        die(2, "cannot run %s: %s" % (cmd[0], e))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


DIAG_RE = re.compile(r"^vaern: (error|warning): (.*?): (?:(.*?): )?(VA_[A-Z]+): (.*)$")
# "vaern: 2862 rules compiled, 3 correlations, 0 filters (924 left out: ...)"; older builds print
# no correlation and filter counts.
RULES_SUMMARY_RE = re.compile(
    r"^vaern: (\d+) rules compiled(?:, \d+ correlations, \d+ filters)? \((\d+) left out: (.*)\)$")
EVENTS_SUMMARY_RE = re.compile(r"^vaern: (\d+) events, (\d+) alerts$")
LOGSOURCE_RE = re.compile(r"logsource '([^']*)' is not in the mapping")


def parse_stderr(text, sigma_dir):
    """Split vaern's standard error into rule diagnostics, input diagnostics and summaries."""
    out = {
        "rules_compiled": None, "rules_left_out": None, "left_out_reasons": [],
        "events": None, "alerts": None, "rule_diags": [], "input_diags": [], "other": [],
    }
    sigma_prefix = os.path.abspath(sigma_dir) + os.sep
    for line in text.splitlines():
        m = RULES_SUMMARY_RE.match(line)
        if m:
            out["rules_compiled"] = int(m.group(1))
            out["rules_left_out"] = int(m.group(2))
            for part in m.group(3).split(","):
                pm = re.match(r"\s*(\d+) (.*)$", part)
                if pm:
                    out["left_out_reasons"].append((pm.group(2).strip(), int(pm.group(1))))
            continue
        m = EVENTS_SUMMARY_RE.match(line)
        if m:
            out["events"], out["alerts"] = int(m.group(1)), int(m.group(2))
            continue
        m = DIAG_RE.match(line)
        if m:
            sev, path, where, code, msg = m.groups()
            d = {"severity": sev, "path": path, "where": where, "code": code, "msg": msg}
            if os.path.abspath(path).startswith(sigma_prefix):
                out["rule_diags"].append(d)
            else:
                out["input_diags"].append(d)
            continue
        if line.strip():
            out["other"].append(line)
    return out


# ---------------------------------------------------------------------------------------------
# Sigma rules: locating them by id and reading the few things the report needs


ID_LINE_RE = re.compile(r"^id:\s*['\"]?([0-9A-Za-z\-]+)['\"]?\s*(?:#.*)?$", re.M)
# vaern's own pack, built into the binary and part of every hunt: its files hold several rules.
PACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rules", "vaern")


def index_rules(dirs):
    """Map rule id -> path of its file (first one in sorted order)."""
    idx = {}
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for f in sorted(files):
                if not f.endswith((".yml", ".yaml")):
                    continue
                p = os.path.join(root, f)
                try:
                    with open(p, encoding="utf-8", errors="replace") as fh:
                        m = ID_LINE_RE.search(fh.read())
                except OSError:
                    continue
                if m and m.group(1) not in idx:
                    idx[m.group(1)] = p
    if os.path.isdir(PACK_DIR):
        for f in sorted(os.listdir(PACK_DIR)):
            if f.endswith(".yml"):
                p = os.path.normpath(os.path.join(PACK_DIR, f))
                with open(p, encoding="utf-8", errors="replace") as fh:
                    for m in ID_LINE_RE.finditer(fh.read()):
                        idx.setdefault(m.group(1), p)
    return idx


def _unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if len(s) >= 2 and s[0] == s[-1] == '"':
        return s[1:-1].replace('\\"', '"')
    return s


def _strip_comment(s):
    # A '#' that starts a comment is preceded by a space (or starts the line) and is not quoted.
    q = None
    for i, c in enumerate(s):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
    return s.rstrip()


def read_rule_lines(text):
    """Line-based fallback: title, level, status, falsepositives, detection field names."""
    r = {"title": None, "level": None, "status": None, "falsepositives": [], "fields": [],
         "condition": None}
    section = None
    det_indent = None
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            m = re.match(r"^([A-Za-z_]+):\s*(.*)$", line)
            section = m.group(1) if m else None
            if m and m.group(1) in ("title", "level", "status") and m.group(2):
                r[m.group(1)] = _unquote(m.group(2))
            if m and m.group(1) == "falsepositives" and m.group(2).strip() not in ("", "|", ">"):
                r["falsepositives"].append(_unquote(m.group(2)))
            continue
        if section == "falsepositives":
            m = re.match(r"^\s*-\s*(.*)$", line)
            if m:
                r["falsepositives"].append(_unquote(m.group(1)))
            elif r["falsepositives"]:  # a plain scalar continued on the next line
                r["falsepositives"][-1] = _unquote(
                    r["falsepositives"][-1].rstrip("'\"") + " " + line.strip().rstrip("'\""))
        elif section == "detection":
            if det_indent is None:
                det_indent = indent
            if indent == det_indent:
                cm = re.match(r"^\s+condition:\s*(.*)$", line)
                if cm:
                    r["condition"] = _unquote(cm.group(1))
                continue
            m = re.match(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)((?:\|[A-Za-z0-9_]+)*)\s*:(?:\s|$)", line)
            if m and m.group(1) not in r["fields"]:
                r["fields"].append(m.group(1))
    return r


def read_logsource(path):
    """product/category/service of a rule, by a line-based reading of its logsource block."""
    ls = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return ls
    inside = False
    for raw in lines:
        line = _strip_comment(raw)
        if not line.strip():
            continue
        if not line[0].isspace():
            inside = line.startswith("logsource:")
            continue
        m = re.match(r"^\s+(product|category|service):\s*(.+)$", line) if inside else None
        if m:
            ls[m.group(1)] = _unquote(m.group(2))
    return ls


def logsource_label(ls):
    parts = [ls.get("product", "(no product)")]
    parts += [ls[k] for k in ("category", "service") if k in ls]
    return "/".join(parts)


def _detection_fields(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            name = str(k).split("|")[0]
            if name and name not in out:
                out.append(name)
    elif isinstance(node, list):
        for x in node:
            _detection_fields(x, out)


def read_rule(path, rid=None):
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    if rid is not None and re.search(r"^---\s*$", text, re.M):
        # a file of several rules (vaern's pack): keep the document with this id
        for part in re.split(r"^---\s*$", text, flags=re.M):
            m = ID_LINE_RE.search(part)
            if m and m.group(1) == rid:
                text = part
                break
    if yaml is not None:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, dict):
            fps = doc.get("falsepositives") or []
            if isinstance(fps, str):
                fps = [fps]
            fields = []
            det = doc.get("detection") or {}
            for k, v in det.items():
                if k in ("condition", "timeframe"):
                    continue
                _detection_fields(v, fields)
            cond = det.get("condition")
            if isinstance(cond, list):
                cond = " | ".join(str(c) for c in cond)
            ls = doc.get("logsource") or {}
            return {
                "title": doc.get("title"), "level": doc.get("level"), "status": doc.get("status"),
                "falsepositives": [str(x) for x in fps], "fields": fields,
                "condition": cond,
                "logsource": ", ".join("%s: %s" % (k, ls[k]) for k in
                                       ("product", "category", "service") if k in ls),
            }
    r = read_rule_lines(text)
    ls = read_logsource(path)
    r["logsource"] = ", ".join("%s: %s" % (k, ls[k]) for k in ("product", "category", "service")
                               if k in ls)
    return r


# ---------------------------------------------------------------------------------------------
# Matched events


def dump_files(vaern, files, wanted):
    """`vaern dump` each file once. Returns ({(file, record_id): [event, ...]} for the keys in
    wanted, {file: {"events", "first", "last", "computers"}})."""
    found = collections.defaultdict(list)
    stats = {}
    for f in files:
        rc, out, _ = run([vaern, "dump", "--ignore-crc", f])
        st = {"events": 0, "first": None, "last": None, "computers": collections.Counter(),
              "exit": rc}
        stats[f] = st
        for line in out.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            st["events"] += 1
            t = ev.get("TimeCreated")
            if isinstance(t, str):
                st["first"] = t if st["first"] is None or t < st["first"] else st["first"]
                st["last"] = t if st["last"] is None or t > st["last"] else st["last"]
            c = ev.get("Computer")
            st["computers"][json.dumps(c) if isinstance(c, list) else c] += 1
            k = (f, ev.get("EventRecordID"))
            if k in wanted:
                found[k].append(ev)
    return found, stats


def fmt_value(v, limit=160):
    if isinstance(v, list):
        s = "[" + ", ".join(fmt_value(x, limit) for x in v) + "]"
    elif isinstance(v, str):
        s = json.dumps(v, ensure_ascii=False)
    else:
        s = json.dumps(v)
    if len(s) > limit:
        s = s[:limit - 1] + "…"
    return s


def md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def code(s):
    s = str(s)
    tick = "``" if "`" in s else "`"
    pad = " " if "`" in s else ""
    return tick + pad + s + pad + tick


# ---------------------------------------------------------------------------------------------
# The document


def read_analysis(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    blocks = {}
    for m in ANALYSIS_RE.finditer(text):
        blocks.setdefault(m.group(1), m.group(2))
    return blocks


def analysis_block(key, blocks, used, default=PLACEHOLDER):
    used.add(key)
    body = blocks.get(key, default)
    if body and not body.endswith("\n"):
        body += "\n"
    return "<!-- analysis:%s -->\n%s<!-- /analysis -->\n" % (key, body)


def rel(path, base):
    try:
        r = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if r.startswith("..") else r


def count_str(counter, keyfmt=str):
    return ", ".join("%s (%d)" % (keyfmt(k), n) for k, n in
                     sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def build(args):
    shared = os.path.abspath(args.shared)
    benign = os.path.join(shared, "evtx-benign")
    dirs = rule_dirs(shared)
    if not os.path.isdir(benign) or not dirs:
        print("SKIP: shared data not found: need %s and %s"
              % (benign, os.path.join(shared, "sigma", "rules*")))
        sys.exit(77)
    vaern = args.vaern
    if not (os.path.isfile(vaern) and os.access(vaern, os.X_OK)):
        die(2, "%s is not an executable vaern binary" % vaern)

    _, version, _ = run([vaern, "version"])
    cmd = hunt_command(vaern, dirs, benign)
    rc, out, err = run(cmd)
    if rc not in (0, 1):
        sys.stderr.write(err[-4000:])
        die(3, "vaern hunt exited with %d" % rc)
    diag = parse_stderr(err, os.path.join(shared, "sigma"))

    alerts = []
    for n, line in enumerate(out.splitlines(), 1):
        if not line.strip():
            continue
        try:
            alerts.append(json.loads(line))
        except ValueError:
            die(3, "alert line %d is not JSON: %s" % (n, line[:200]))
    if diag["alerts"] is not None and diag["alerts"] != len(alerts):
        print("detection_quality: warning: vaern's summary says %d alerts, %d lines were read"
              % (diag["alerts"], len(alerts)), file=sys.stderr)

    rule_files = index_rules(dirs)
    by_rule = collections.OrderedDict()
    for a in alerts:
        by_rule.setdefault(a["id"], []).append(a)
    rules = {}
    for rid in by_rule:
        p = rule_files.get(rid)
        rules[rid] = read_rule(p, rid) if p else {"title": None, "level": None, "falsepositives": [],
                                             "fields": [], "condition": None, "logsource": ""}
        rules[rid]["path"] = p

    per_level = collections.Counter(a["level"] for a in alerts)
    rules_per_level = collections.defaultdict(set)
    for a in alerts:
        rules_per_level[a["level"]].add(a["id"])

    # Events of the high and critical alerts
    hi = [rid for rid in by_rule if by_rule[rid][0]["level"] in ("critical", "high")]
    hi.sort(key=lambda r: (LEVELS.index(by_rule[r][0]["level"]), -len(by_rule[r]),
                           by_rule[r][0]["rule"]))
    # Every alert's event, from `vaern dump` of the files with alerts: the high and critical
    # tables show them, and the repeated-field check below looks at all of them.
    wanted = {(a["file"], a["record_id"]) for a in alerts}

    benign_files = []
    for root, subdirs, files in os.walk(benign):
        subdirs.sort()
        benign_files += [os.path.join(root, f) for f in sorted(files)
                         if f.lower().endswith((".evtx", ".json", ".jsonl", ".ndjson"))]
    alert_files = {a["file"] for a in alerts}
    dump_list = benign_files + sorted(alert_files - set(benign_files))
    events, file_stats = dump_files(vaern, dump_list, wanted)

    def event_of(a):
        evs = events.get((a["file"], a["record_id"]), [])
        evs = [e for e in evs if e.get("TimeCreated") == a.get("time")] or evs
        return evs[0] if evs else {}

    # System fields that are repeated in EventData/UserData come out of the flattener as arrays;
    # an alert that depends on such a field may have matched the wrong one of the values.
    repeated = []
    for a in alerts:
        ev = event_of(a)
        tested = set(rules[a["id"]].get("fields") or [])
        multi = [(f, ev[f]) for f in sorted(SYSTEM_FIELDS) if isinstance(ev.get(f), list)
                 and f in tested]
        if multi:
            repeated.append((a, multi))


    blocks = read_analysis(args.out)
    used = set()
    L = []
    w = L.append

    w("# Detection quality: SigmaHQ alerts on the benign logs\n\n")
    w("<!-- Generated by tools/detection_quality.py. Tables and figures are rewritten on every "
      "run; only the text between `analysis` markers is kept. Edit the prose there. -->\n\n")
    w("This report runs `vaern hunt` with every SigmaHQ rule folder over the benign sample logs "
      "(`evtx-benign/` of the shared data) and looks at what fires. On benign logs every alert "
      "is either a false positive of the rule, something genuinely suspicious in the samples, or "
      "an error of vaern's engine. The high and critical alerts are analysed one by one; the "
      "others are only counted.\n\n")
    w("Run: %s, %d rule folders, %d input files, vaern exit code %d"
      " (1 means some input was damaged: the benign set holds deliberately damaged files).\n\n"
      % (code(version.strip() or "vaern"), len(dirs), len(benign_files), rc))

    w("## Findings\n\n")
    w(analysis_block("findings", blocks, used))
    w("\n")

    # --- Totals
    w("## Totals\n\n")
    w("| what | count |\n|---|---:|\n")
    w("| input files (`evtx-benign/`) | %d |\n" % len(benign_files))
    w("| events read (vaern's summary) | %s |\n" % diag["events"])
    w("| rules loaded and compiled | %s |\n" % diag["rules_compiled"])
    w("| rules left out | %s |\n" % diag["rules_left_out"])
    w("| alerts | %d |\n" % len(alerts))
    w("| rules with at least one alert | %d |\n" % len(by_rule))
    w("\n")
    w("| level | alerts | rules that fired |\n|---|---:|---:|\n")
    for lv in LEVELS:
        w("| %s | %d | %d |\n" % (lv, per_level.get(lv, 0), len(rules_per_level.get(lv, ()))))
    other_levels = sorted(set(per_level) - set(LEVELS))
    for lv in other_levels:
        w("| %s | %d | %d |\n" % (lv, per_level[lv], len(rules_per_level[lv])))
    w("\n")

    # --- Input files
    w("### Input files\n\n")
    w("Per file, from `vaern dump --ignore-crc FILE`: events, the range of `TimeCreated`, the "
      "computers, and the alerts of the hunt.\n\n")
    alerts_per_file = collections.Counter(a["file"] for a in alerts)
    w("| file | events | first event | last event | computers | alerts |\n"
      "|---|---:|---|---|---|---:|\n")
    total_dump = 0
    for f in benign_files:
        st = file_stats.get(f, {})
        total_dump += st.get("events", 0)
        comps = st.get("computers") or {}
        w("| %s | %d | %s | %s | %s | %d |\n" % (
            code(os.path.basename(f)), st.get("events", 0), st.get("first") or "",
            st.get("last") or "", md_escape(count_str(comps) if len(comps) > 1 else
                                            ", ".join(str(c) for c in comps)),
            alerts_per_file.get(f, 0)))
    w("| total | %d | | | | %d |\n\n" % (total_dump, len(alerts)))
    if diag["events"] is not None and total_dump != diag["events"]:
        w("Note: `vaern dump` gave %d events, the hunt's summary %d.\n\n"
          % (total_dump, diag["events"]))

    # --- Input diagnostics
    w("### Damaged input\n\n")
    w("vaern reads with `--ignore-crc`, so chunks with a bad CRC32 are still read; other damage "
      "is reported and skipped. Diagnostics on standard error, per file:\n\n")
    if diag["input_diags"]:
        per_file = collections.OrderedDict()
        for d in diag["input_diags"]:
            per_file.setdefault(d["path"], collections.Counter())[
                "%s %s" % (d["severity"], d["code"])] += 1
        w("| file | diagnostics |\n|---|---|\n")
        for p, c in per_file.items():
            w("| %s | %s |\n" % (code(rel(p, shared)), count_str(c)))
    else:
        w("None.\n")
    w("\n")
    if diag["other"]:
        w("Other lines on standard error:\n\n```\n%s\n```\n\n" % "\n".join(diag["other"][:20]))

    # --- Rules left out
    w("## Rules left out\n\n")
    w("From vaern's summary line on standard error: %s rules compiled, %s left out.\n\n"
      % (diag["rules_compiled"], diag["rules_left_out"]))
    if diag["left_out_reasons"]:
        w("| reason | rules |\n|---|---:|\n")
        for reason, n in diag["left_out_reasons"]:
            w("| %s | %d |\n" % (reason, n))
        w("\n")
    ls_count = collections.Counter()
    other_diags = []
    ls_product = collections.Counter()
    for d in diag["rule_diags"]:
        m = LOGSOURCE_RE.search(d["msg"])
        if m:
            ls = read_logsource(d["path"])
            ls_count[logsource_label(ls) if ls else m.group(1)] += 1
            ls_product[ls.get("product", "(no product)")] += 1
        else:
            other_diags.append(d)
    if ls_count:
        w("Rules whose logsource is not in the mapping (`config/sigma/logsources.yml`), by "
          "product: %s.\n\n" % count_str(ls_product, code))
        w("By logsource (product/category or product/service, read from each rule file): ")
        w(count_str(ls_count, code) + ".\n\n")
    if other_diags:
        w("The other rules that are left out, with vaern's reason:\n\n")
        w("| rule file | reason |\n|---|---|\n")
        for d in other_diags:
            w("| %s | %s %s |\n" % (code(rel(d["path"], shared)), d["code"], md_escape(d["msg"])))
        w("\n")
    w(analysis_block("rules-left-out", blocks, used,
                     "_No comment._\n"))
    w("\n")

    # --- High and critical
    w("## High and critical alerts\n\n")
    if not hi:
        w("No high or critical rule fired.\n\n")
    else:
        w("| level | rule | id | alerts | files | event IDs |\n|---|---|---|---:|---|---|\n")
        for rid in hi:
            al = by_rule[rid]
            files = collections.Counter(os.path.basename(a["file"]) for a in al)
            eids = collections.Counter(a["event_id"] for a in al)
            w("| %s | %s | `%s` | %d | %s | %s |\n" % (
                al[0]["level"], md_escape(al[0]["rule"]), rid, len(al),
                md_escape(count_str(files, code)), count_str(eids)))
        w("\n")
        for rid in hi:
            al = by_rule[rid]
            r = rules[rid]
            w("### %s: %s\n\n" % (al[0]["level"], al[0]["rule"]))
            w("- id: `%s`\n" % rid)
            if r.get("path"):
                w("- rule file: %s\n" % code(
                    rel(r["path"], shared) if not r["path"].startswith(os.path.normpath(PACK_DIR))
                    else "rules/vaern/" + os.path.basename(r["path"]) + " (vaern's pack)"))
            if r.get("logsource"):
                w("- logsource: %s\n" % r["logsource"])
            if r.get("condition"):
                w("- condition: %s\n" % code(r["condition"]))
            w("- alerts: %d, on %s\n" % (len(al), count_str(
                collections.Counter(rel(a["file"], shared) for a in al), code)))
            fps = r.get("falsepositives") or []
            w("- the rule's `falsepositives`: %s\n" % (
                "; ".join(md_escape(x) for x in fps) if fps else "(none given)"))
            w("\n")
            fields = r.get("fields") or []
            w("| file | record | time | computer | event ID | fields the rule tests; other "
              "event data |\n|---|---:|---|---|---:|---|\n")
            for a in sorted(al, key=lambda a: (a["file"], a["record_id"])):
                ev = event_of(a)
                if "fields" in a and isinstance(a["fields"], dict):
                    shown = collections.OrderedDict(a["fields"])  # vaern's own matched fields
                else:
                    shown = collections.OrderedDict((f, ev[f]) for f in fields if f in ev)
                    # System fields that also appear in EventData/UserData come out as arrays
                    for f in sorted(SYSTEM_FIELDS):
                        if isinstance(ev.get(f), list) and f not in shown:
                            shown[f] = ev[f]
                rest = [(k, v) for k, v in ev.items() if k not in shown and k not in SYSTEM_FIELDS]
                cell = "<br>".join("%s: %s" % (code(k), md_escape(fmt_value(v)))
                                   for k, v in shown.items()) or "(event not found)"
                if rest:
                    cell += "<br>other: " + ", ".join(
                        "%s: %s" % (code(k), md_escape(fmt_value(v, 80)))
                        for k, v in rest[:MAX_OTHER_FIELDS])
                    if len(rest) > MAX_OTHER_FIELDS:
                        cell += ", … (%d more)" % (len(rest) - MAX_OTHER_FIELDS)
                w("| %s | %s | %s | %s | %s | %s |\n" % (
                    code(os.path.basename(a["file"])), a["record_id"], a.get("time", ""),
                    md_escape(a.get("computer", "")), a.get("event_id", ""), cell))
            w("\n")
            w(analysis_block(rid, blocks, used))
            w("\n")

    # --- Repeated field names
    w("## Alerts that depend on a repeated field name\n\n")
    w("vaern flattens System, EventData and UserData into one namespace; a name that occurs twice "
      "becomes an array, and a rule's condition on it holds if any element matches. This lists "
      "every alert (any level) whose event has a System field (%s, ...) repeated in "
      "EventData/UserData, where the rule tests that field. Such an alert may rest on the wrong "
      "one of the values.\n\n" % ", ".join(code(f) for f in ("EventID", "Channel", "ProcessID")))
    if repeated:
        w("| level | rule | id | file | record | event ID (alert) | repeated field: values | "
          "other event data |\n|---|---|---|---|---:|---:|---|---|\n")
        for a, multi in repeated:
            ev = event_of(a)
            rest = [(k, v) for k, v in ev.items() if k not in SYSTEM_FIELDS]
            w("| %s | %s | `%s` | %s | %s | %s | %s | %s |\n" % (
                a["level"], md_escape(a["rule"]), a["id"], code(os.path.basename(a["file"])),
                a["record_id"], a.get("event_id", ""),
                "<br>".join("%s: %s" % (code(f), md_escape(fmt_value(v))) for f, v in multi),
                ", ".join("%s: %s" % (code(k), md_escape(fmt_value(v, 80)))
                          for k, v in rest[:MAX_OTHER_FIELDS])))
        w("\n")
    else:
        w("None in this run.\n\n")
    w(analysis_block("repeated-fields", blocks, used))
    w("\n")

    # --- Medium, low, informational
    w("## Medium, low and informational alerts\n\n")
    w("Counted only, not analysed.\n\n")
    w("| level | alerts | rules that fired |\n|---|---:|---:|\n")
    for lv in ("medium", "low", "informational"):
        w("| %s | %d | %d |\n" % (lv, per_level.get(lv, 0), len(rules_per_level.get(lv, ()))))
    w("\n")
    rest = [rid for rid in by_rule if by_rule[rid][0]["level"] not in ("critical", "high")]
    rest.sort(key=lambda r: (-len(by_rule[r]), LEVELS.index(by_rule[r][0]["level"])
                             if by_rule[r][0]["level"] in LEVELS else 9, by_rule[r][0]["rule"]))
    w("The %s rules with the most alerts (of %d that fired):\n\n" % (
        "%d" % min(TOP_N, len(rest)), len(rest)))
    w("| # | level | rule | id | alerts | files |\n|---:|---|---|---|---:|---|\n")
    for i, rid in enumerate(rest[:TOP_N], 1):
        al = by_rule[rid]
        files = collections.Counter(os.path.basename(a["file"]) for a in al)
        w("| %d | %s | %s | `%s` | %d | %s |\n" % (
            i, al[0]["level"], md_escape(al[0]["rule"]), rid, len(al),
            md_escape(count_str(files, code))))
    w("\n")
    if len(rest) > TOP_N:
        tail = rest[TOP_N:]
        w("The other %d rules gave %d alerts together.\n\n" % (
            len(tail), sum(len(by_rule[r]) for r in tail)))
    w(analysis_block("medium-low", blocks, used, "_No comment._\n"))
    w("\n")

    # --- Reproduce
    w("## How to reproduce\n\n")
    w("From the project's root, with the shared data at `../shared/data`:\n\n")
    w("```sh\n")
    w("cmake -S . -B build-dq && cmake --build build-dq -j2\n")
    w("python3 tools/detection_quality.py build-dq/vaern ../shared/data "
      "--out docs/detection-quality.md\n")
    w("```\n\n")
    w("The script runs this hunt (paths relative to the shared data folder):\n\n")
    w("```sh\n")
    w("vaern hunt %s --ignore-crc evtx-benign\n" % " ".join(
        "--rules " + rel(d, shared) for d in dirs))
    w("```\n\n")
    w("and `vaern dump --ignore-crc FILE` on each input file, for the per-file table and the "
      "matched events. To look at one event: `vaern dump --ignore-crc FILE | grep "
      "'\"EventRecordID\":N,'`, or `vaern evtx dump --xml FILE` for the XML. It exits with 77 "
      "(SKIP) when the shared data is absent.\n\n")
    w(analysis_block("reproduce", blocks, used, ""))

    orphans = [k for k in blocks if k not in used]
    if orphans:
        w("\n## Analysis without a current alert\n\n")
        w("Kept from an earlier version of this report: these rules (or sections) no longer "
          "appear in the run above.\n\n")
        for k in orphans:
            w("### %s\n\n" % k)
            w(analysis_block(k, blocks, used))
            w("\n")

    text = "".join(L)
    text = re.sub(r"\n{3,}", "\n\n", text)
    if not text.endswith("\n"):
        text += "\n"
    return text, {"alerts": len(alerts), "per_level": per_level, "events": diag["events"],
                  "high": [(by_rule[r][0]["level"], by_rule[r][0]["rule"], r, len(by_rule[r]))
                           for r in hi]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vaern", metavar="VAERN_BINARY")
    ap.add_argument("shared", metavar="SHARED_DATA_DIR")
    ap.add_argument("--out", default=os.path.join(here, "..", "docs", "detection-quality.md"))
    args = ap.parse_args()
    args.out = os.path.normpath(args.out)
    text, s = build(args)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, args.out)
    print("detection_quality: %s: %s events, %d alerts (%s)" % (
        args.out, s["events"], s["alerts"],
        ", ".join("%s %d" % (lv, s["per_level"].get(lv, 0)) for lv in LEVELS)))
    for lv, title, rid, n in s["high"]:
        print("  %s %s %s: %d" % (lv, rid, title, n))


if __name__ == "__main__":
    main()
