import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SEMBED_MIRROR") or ROOT.parent / "shared" / "data")
SEMBED = str(Path(sys.executable).parent / "sembed")


def run_sembed(*args, cwd=None, env=None):
    "Run the installed `sembed` console command; return the CompletedProcess (text)."
    e = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run([SEMBED, *map(str, args)], cwd=cwd or ROOT, capture_output=True, text=True, env=e)


def error_lines(proc):
    "Lines of stderr that are our one-line error (ignoring library warnings)."
    return [l for l in proc.stderr.splitlines() if l.startswith("sembed: error:")]


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
