#!/usr/bin/env python3
"""Runs what the documentation tells a user to run, and checks what it says the output holds.

Every fenced block in README.md, docs/*.md and python/README.md must name its language; shell and
Python blocks must also say whether they run here:

    ```sh test        run by this check (bash, `set -e`, from the project root, `agora` on PATH)
    ```python test    run by this check with the package's Python (agora_ml installed)
    ```sh mpi         run only with --mpi (needs `make build-mpi`; CI passes it)
    ```sh long        documented as long-running: not run here
    ```keys CMD       CMD is run and prints one JSON object; the block lists its top-level keys
                      (comma separated, `?` marks a key that may be absent); a key missing from
                      the output or present but not listed fails
    ```text / swift / json ...   shown, never run

A shell or Python block without a tag fails the check, so a new snippet is either tested or
marked long on purpose. The closing line reads "docs: N passed, M failed".
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = {"sh", "bash", "console", "shell", "python"}
TAGS = {"test", "long", "mpi"}


def blocks(path: Path):
    """(line number, info string, body) of every fenced block of a Markdown file."""
    lines = path.read_text().split("\n")
    k = 0
    while k < len(lines):
        m = re.match(r"^(\s*)```(.*)$", lines[k])
        if not m:
            k += 1
            continue
        indent, info, start = m.group(1), m.group(2).strip(), k + 1
        body = []
        k += 1
        while k < len(lines) and not re.match(r"^\s*```\s*$", lines[k]):
            body.append(lines[k][len(indent):] if lines[k].startswith(indent) else lines[k])
            k += 1
        k += 1
        yield start, info, "\n".join(body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agora", default=str(ROOT / ".build/release/agora"), help="the agora binary")
    ap.add_argument("--python", default=str(ROOT / ".venv-python/bin/python"), help="a Python with agora_ml")
    ap.add_argument("--mpi", action="store_true", help="also run the `sh mpi` blocks")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per block")
    ap.add_argument("files", nargs="*", help="Markdown files (default: README.md, docs/*.md, python/README.md)")
    args = ap.parse_args()

    files = [Path(f) for f in args.files] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "python/README.md"]
    bindir = Path(tempfile.mkdtemp(prefix="agora-docs-"))
    agora = Path(args.agora).resolve()
    if not agora.exists():
        print(f"docs: the agora binary {agora} is missing (make build)")
        return 2
    (bindir / "agora").symlink_to(agora)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '')}",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    passed, failed, notes = 0, 0, []

    def verdict(where: str, ok: bool, what: str, detail: str = "") -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok    {where}: {what}")
        else:
            failed += 1
            print(f"FAIL  {where}: {what}")
            for line in detail.strip().splitlines()[-15:]:
                print(f"        {line}")

    def run(cmd, where: str, what: str, shell_input: str | None = None):
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, cwd=ROOT, env=env, input=shell_input, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            verdict(where, False, f"{what} (timed out after {args.timeout:.0f} s)")
            return None
        dt = time.monotonic() - t0
        ok = r.returncode == 0
        verdict(where, ok, f"{what} ({dt:.1f} s)" + ("" if ok else f", exit {r.returncode}"), r.stdout + r.stderr)
        return r if ok else None

    for path in files:
        rel = path.relative_to(ROOT) if path.is_absolute() else path
        for line, info, body in blocks(path):
            where = f"{rel}:{line}"
            words = info.split()
            lang = words[0] if words else ""
            if not lang:
                verdict(where, False, "a fenced block without a language (text, sh test, sh long, python test, ...)")
                continue
            if lang == "keys":
                cmd = " ".join(words[1:])
                listed = [k.strip() for k in re.split(r"[,\s]+", body) if k.strip()]
                required = {k for k in listed if not k.endswith("?")}
                optional = {k[:-1] for k in listed if k.endswith("?")}
                r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
                obj = None
                for out_line in reversed(r.stdout.strip().splitlines()):
                    try:
                        obj = json.loads(out_line)
                        break
                    except ValueError:
                        continue
                if r.returncode != 0 or not isinstance(obj, dict):
                    verdict(where, False, f"keys of `{cmd}`: no JSON object (exit {r.returncode})", r.stdout + r.stderr)
                    continue
                got = set(obj)
                missing, extra = required - got, got - required - optional
                verdict(where, not missing and not extra, f"keys of `{cmd}`"
                        + (f": documented but missing {sorted(missing)}" if missing else "")
                        + (f": printed but not documented {sorted(extra)}" if extra else ""))
                continue
            if lang not in RUNNABLE:
                continue
            tag = words[1] if len(words) > 1 else ""
            if tag not in TAGS:
                verdict(where, False, f"a `{lang}` block must be tagged test, long or mpi, not '{tag}'")
                continue
            if tag == "long" or (tag == "mpi" and not args.mpi):
                notes.append(f"{where}: {tag}")
                continue
            if lang == "python":
                if not Path(args.python).exists():
                    verdict(where, False, f"python snippet: {args.python} is missing (make python installs agora_ml there)")
                    continue
                run([args.python, "-"], where, "python snippet", body)
            else:
                run(["bash", "-e", "-o", "pipefail", "-c", body], where, "shell: " + body.strip().splitlines()[0][:90])
    print(f"docs: {len(notes)} blocks marked long (or mpi without --mpi) not run")
    print(f"docs: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
