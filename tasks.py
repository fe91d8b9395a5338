"""Task runner for sembed (`invoke --list`). Every task runs with this Python's bin/ on PATH, so
`.venv/bin/invoke TASK` works without activating the virtualenv."""
import hashlib, os, sys
from pathlib import Path
from invoke import task

ROOT = Path(__file__).resolve().parent
BIN = str(Path(sys.executable).parent)
os.environ["PATH"] = BIN + os.pathsep + os.environ.get("PATH", "")


def _snapshot(folder, pattern):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / folder).rglob(pattern))}


def _check_unchanged(c, cmd, folder, pattern, what):
    before = _snapshot(folder, pattern)
    c.run(cmd, hide=True)
    after = _snapshot(folder, pattern)
    changed = sorted(str(p.relative_to(ROOT)) for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        sys.exit(f"invoke test: `{cmd}` changed {what}: {', '.join(changed)} (commit notebooks and export together)")


@task
def export(c):
    "Export the notebooks in nbs/ to the sembed package (nbdev_export)."
    c.run("nbdev_export")


@task(help={"fast": "skip the slow integration tests (real model and data mirror)", "k": "pytest -k expression"})
def test(c, fast=False, k=""):
    "Check sembed/ matches the notebooks and notebooks are clean, run notebook tests, then pytest."
    with c.cd(str(ROOT)):
        _check_unchanged(c, "nbdev_export", "sembed", "*.py", "sembed/")
        _check_unchanged(c, "nbdev_clean", "nbs", "*.ipynb", "notebooks (outputs/metadata left in)")
        c.run("nbdev_test --n_workers 2", pty=False)
        marks = '-m "not slow"' if fast else ""
        kexp = f'-k "{k}"' if k else ""
        c.run(f"python -m pytest tests {marks} {kexp} -q -rs --durations=15", pty=False)
