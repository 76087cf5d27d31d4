#!/usr/bin/env python3
"""An `agora report` page in a real browser: headless Chromium loads the file (no network), its
script runs without an error (the page marks <body data-ready="yes"> when it has, and records
errors in data-errors), the plots and tables are there, nothing is logged to the console as an
error, and a screenshot is written for a person to look at.

    python3 Tests/report/check_report.py PAGE.html [--screenshot OUT.png] [--plots N] [--tables N]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_report: no Chromium (apt-get install chromium; make setup-report)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--screenshot", default=None)
    ap.add_argument("--plots", type=int, default=1, help="at least this many inline SVG plots")
    ap.add_argument("--tables", type=int, default=1, help="at least this many data tables")
    a = ap.parse_args()
    page = os.path.abspath(a.page)
    if not os.path.isfile(page):
        sys.exit(f"check_report: {a.page}: no such file")
    url = "file://" + page
    common = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(common + ["--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    failures = []
    body = re.search(r"<body[^>]*>", dom.stdout)
    if dom.returncode != 0 or not body:
        failures.append(f"Chromium did not render the page (exit {dom.returncode}): {dom.stderr[-400:]}")
    else:
        tag = body.group(0)
        if 'data-ready="yes"' not in tag:
            failures.append(f"the page's script did not finish: {tag}")
        errors = re.search(r'data-errors="([^"]*)"', tag)
        if errors:
            failures.append(f"script errors: {errors.group(1)}")
        plots = int((re.search(r'data-plots="(\d+)"', tag) or [0, 0])[1])
        tables = int((re.search(r'data-tables="(\d+)"', tag) or [0, 0])[1])
        if plots < a.plots:
            failures.append(f"{plots} plots, expected at least {a.plots}")
        if tables < a.tables:
            failures.append(f"{tables} tables, expected at least {a.tables}")
    console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "Error" in l)]
    failures += [f"console: {l}" for l in console]
    shot = None
    if a.screenshot:
        shot = os.path.abspath(a.screenshot)
        s = subprocess.run(common + ["--window-size=1280,2000", f"--screenshot={shot}", url],
                           capture_output=True, text=True, timeout=120)
        if s.returncode != 0 or not os.path.isfile(shot) or os.path.getsize(shot) < 10_000:
            failures.append(f"no screenshot written (exit {s.returncode})")
    if failures:
        for f in failures:
            print(f"FAIL {a.page}: {f}")
        sys.exit(1)
    print(f"ok   {a.page}: script ran, {plots} plots, {tables} tables, no console errors"
          + (f"; screenshot {a.screenshot}" if shot else ""))


if __name__ == "__main__":
    main()
