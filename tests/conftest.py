import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SEMBED_MIRROR") or ROOT.parent / "shared" / "data")
SEMBED = str(Path(sys.executable).parent / "sembed")


def run_sembed(*args, cwd=None, env=None, process=False):
    """Run the `sembed` command; return a CompletedProcess (text). By default in this process: `sembed.cli.main`, the
    console script's entry point, with the working directory, environment, stdout and stderr of a separate run and its
    exit status (SystemExit code; an uncaught exception is status 1 with its traceback on stderr) — the same code path
    without a new interpreter's ~5 s of imports. `process=True` runs the installed console script itself."""
    e = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    argv = [str(a) for a in args]
    if process: return subprocess.run([SEMBED, *argv], cwd=cwd or ROOT, capture_output=True, text=True, env=e)
    import contextlib, io, traceback
    from sembed import cli
    out, err, code = io.StringIO(), io.StringIO(), 0
    old_env, old_cwd = dict(os.environ), os.getcwd()
    try:
        os.environ.clear(); os.environ.update(e); os.chdir(cwd or ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: cli.main(argv)
            except SystemExit as x: code = x.code if isinstance(x.code, int) else (0 if x.code is None else 1)
            except BaseException: traceback.print_exc(); code = 1
    finally:
        os.chdir(old_cwd); os.environ.clear(); os.environ.update(old_env)
    return subprocess.CompletedProcess(["sembed", *argv], code, out.getvalue(), err.getvalue())


def error_lines(proc):
    "Lines of stderr that are our one-line error (ignoring library warnings)."
    return [l for l in proc.stderr.splitlines() if l.startswith("sembed: error:")]


def mirror_copy(mirror, dest, *parts):
    "A writable copy of the mirror's folders `parts` under `dest` (a test may then remove or change files in it)."
    for part in parts: shutil.copytree(mirror / part, dest / part)
    return dest


@pytest.fixture(scope="session")
def mirror():
    if not (MIRROR / "SHA256SUMS").exists():
        pytest.fail(f"data mirror not found at {MIRROR} (set SEMBED_MIRROR)")
    return MIRROR


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, mirror):
    "A real `data/` folder downloaded once per session from the mirror with `sembed download`."
    out = tmp_path_factory.mktemp("data") / "data"
    p = run_sembed("download", "--out", out, "--mirror", mirror)
    assert p.returncode == 0, p.stderr
    return out
