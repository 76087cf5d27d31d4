#!/usr/bin/env python3
"""CI's closing line from per-test results, and one JUnit file of them all.

Reads each suite's own per-test record, never counts subtracted between logs:
  --xctest LOG   XCTest console output (`Test Case 'Suite.test' started/passed/failed/skipped`)
  --junit XML    a JUnit file (pytest --junitxml)
  --lines LOG:NAME  a log whose per-case lines read `ok    CASE` or `FAIL  CASE` (the docs check,
                 the C ABI smoke test); NAME is the suite name in the report
Writes --out (JUnit XML) and prints e.g. "tests: 301 passed, 0 failed, 2 skipped" followed by every
skipped test and its reason. Exits 1 when a test failed, when a test started and never finished
(a crash), when XCTest's own "Executed N tests" total disagrees with the per-test lines, or when a
suite given here has no test at all.
"""
import argparse
import re
import sys
import xml.etree.ElementTree as ET

CASE = re.compile(r"^Test Case '([^']+)' (started|passed|failed|skipped)")
EXECUTED = re.compile(r"Executed (\d+) tests?, with (?:(\d+) tests? skipped and )?(\d+) failures?")
SKIP_REASON = re.compile(r": (\S+) : Test skipped(?: - (.*))?$")
FAIL_REASON = re.compile(r": error: (\S+) : (.*)$")


def xctest(path, problems):
    results, started, reasons, failures = {}, set(), {}, {}
    executed = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = CASE.match(line)
            if m:
                name, what = m.groups()
                if what == "started":
                    started.add(name)
                else:
                    results[name] = what
                continue
            m = SKIP_REASON.search(line)
            if m:
                reasons[m.group(1)] = m.group(2) or ""
                continue
            m = FAIL_REASON.search(line)
            if m:
                failures.setdefault(m.group(1), m.group(2))
                continue
            m = EXECUTED.search(line)
            if m:
                executed = int(m.group(1))  # the last one is the whole run's
    for name in sorted(started - set(results)):
        problems.append(f"{path}: {name} started and never finished (a crash?)")
        results[name] = "failed"
        failures[name] = "started and never finished"
    if not results:
        problems.append(f"{path}: no XCTest results")
    elif executed is not None and executed != len(results):
        problems.append(f"{path}: XCTest says {executed} tests executed, the per-test lines say {len(results)}")
    cases = []
    for name, what in sorted(results.items()):
        suite, _, test = name.rpartition(".")
        detail = reasons.get(name, "") if what == "skipped" else failures.get(name, "")
        cases.append(("xctest." + suite, test, what, detail))
    return cases


def junit(path, problems):
    cases = []
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        what, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                what, detail = "failed", child.get("message", "")
            elif child.tag == "skipped":
                what, detail = "skipped", child.get("message", "")
        cases.append(("pytest." + case.get("classname", ""), case.get("name", ""), what, detail))
    if not cases:
        problems.append(f"{path}: no test cases")
    return cases


def lines(spec, problems):
    path, _, suite = spec.rpartition(":")
    cases = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^(ok|FAIL)\s+(.*)$", line.rstrip("\n"))
            if m:
                cases.append((suite, m.group(2), "passed" if m.group(1) == "ok" else "failed", ""))
    if not cases:
        problems.append(f"{path}: no per-case lines")
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xctest", action="append", default=[])
    ap.add_argument("--junit", action="append", default=[])
    ap.add_argument("--lines", action="append", default=[])
    ap.add_argument("--out", help="write every case as one JUnit XML file")
    a = ap.parse_args()
    problems, cases = [], []
    for p in a.xctest:
        cases += xctest(p, problems)
    for p in a.junit:
        cases += junit(p, problems)
    for p in a.lines:
        cases += lines(p, problems)
    count = {k: sum(1 for c in cases if c[2] == k) for k in ("passed", "failed", "skipped")}
    if a.out:
        root = ET.Element("testsuites", tests=str(len(cases)), failures=str(count["failed"]), skipped=str(count["skipped"]))
        for suite in sorted({c[0] for c in cases}):
            mine = [c for c in cases if c[0] == suite]
            s = ET.SubElement(root, "testsuite", name=suite, tests=str(len(mine)),
                              failures=str(sum(c[2] == "failed" for c in mine)),
                              skipped=str(sum(c[2] == "skipped" for c in mine)))
            for _, name, what, detail in mine:
                e = ET.SubElement(s, "testcase", classname=suite, name=name)
                if what != "passed":
                    ET.SubElement(e, "failure" if what == "failed" else "skipped", message=detail)
        ET.ElementTree(root).write(a.out, encoding="utf-8", xml_declaration=True)
    by_suite = {}
    for c in cases:
        by_suite.setdefault(c[0].split(".")[0], [0, 0, 0])[("passed", "failed", "skipped").index(c[2])] += 1
    parts = ", ".join(f"{k} {v[0]}/{v[1]}/{v[2]}" for k, v in sorted(by_suite.items()))
    print(f"tests: {count['passed']} passed, {count['failed']} failed, {count['skipped']} skipped "
          f"(passed/failed/skipped: {parts})")
    for suite, name, what, detail in cases:
        if what != "passed":
            print(f"  {what}: {suite} {name}: {detail}")
    for p in problems:
        print("problem: " + p)
    return 1 if count["failed"] or problems else 0


if __name__ == "__main__":
    sys.exit(main())
