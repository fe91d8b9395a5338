"""Ecosystem choices (issue 31, point 10): the package declares ranges and a light base install that evaluates; the exact
versions live in constraints.txt (install.sh installs with it); DVC, the reports, isotropy and LoRA are the `pipeline`
extra, and a feature that needs a missing one stops with one line naming `pip install 'sembed[pipeline]'`."""
import configparser, json, re, subprocess, sys
import pytest, yaml
from conftest import ROOT, error_lines, run_sembed
from _tiny import tiny_encoder
from sembed.data import write_toy_data

PIPELINE = ["dvc", "papermill", "isoscore", "scikit-dimension", "peft"]   # the list
BLOCKED = ["dvc", "dvclive", "papermill", "nbconvert", "nbformat", "ipykernel", "invoke", "matplotlib", "IsoScore", "skdim",
           "peft", "accelerate"]   # what a plain `pip install sembed` does not bring


def _name(req): return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower()


def _settings():
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT / "settings.ini", encoding="utf-8")
    return {k: cfg["DEFAULT"].get(k, "").split() for k in ("requirements", "pipeline_requirements", "dev_requirements")}


def test_requirements_are_ranges_and_the_pins_live_in_constraints():
    s = _settings()
    base, pipe = s["requirements"], s["pipeline_requirements"]
    assert [r for r in base + pipe + s["dev_requirements"] if "==" in r] == []   # no exact pin in what users install
    assert not {_name(r) for r in base} & set(PIPELINE) and set(PIPELINE) <= {_name(r) for r in pipe}
    assert "accelerate" not in {_name(r) for r in base + pipe}   # imported nowhere (peft brings it itself)
    assert not re.search(r"^\s*(import accelerate|from accelerate)", "".join(p.read_text() for p in (ROOT / "sembed").glob("*.py")), re.M)
    pins = {_name(l): l.split("#")[0].strip() for l in (ROOT / "constraints.txt").read_text().splitlines() if l.strip() and not l.startswith("#")}
    assert all("==" in v for v in pins.values())
    for n in ["transformers", "datasets", "sentence-transformers", "scikit-learn", *PIPELINE]: assert n in pins, n
    assert "-c constraints.txt" in (ROOT / "install.sh").read_text() and "'.[dev,pipeline]'" in (ROOT / "install.sh").read_text()


def test_a_report_without_the_pipeline_extra_is_one_line(tmp_path, monkeypatch):
    "papermill missing (as after a plain `pip install sembed`): one error line that names the extra, nothing written."
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"scale": "smoke", "papers": [], "experiments": {}}))
    monkeypatch.setitem(sys.modules, "papermill", None)   # `import papermill` fails; find_spec says it is not there
    p = run_sembed("report", "--leaderboard", "--root", tmp_path, "--out", "reports", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr[-2000:]
    assert "sembed report needs papermill" in lines[0] and "pip install 'sembed[pipeline]'" in lines[0], lines[0]
    assert not (tmp_path / "reports").exists()


def test_an_isotropy_row_without_the_extra_fails_before_any_work(tmp_path, monkeypatch):
    write_toy_data(tmp_path / "data")
    tiny_encoder("avg").save_pretrained(tmp_path / "tiny")
    row = {"method": "pooler", "isotropy": True, "scales": {"smoke": {"model": str(tmp_path / "tiny"), "pooler": "avg", "tasks": ["STS-B"]}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "scale": "smoke", "experiments": {"iso": row}}))
    monkeypatch.setitem(sys.modules, "skdim", None)
    p = run_sembed("run", "--experiment", "iso", "--params", "params.yaml", "--data", "data", "--models", "models",
                   "--results", "results", "--no-resume", cwd=tmp_path, env={"SEMBED_CACHE_DIR": str(tmp_path / "cache")})
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr[-2000:]
    assert "experiment iso: isotropy needs skdim" in lines[0] and "pip install 'sembed[pipeline]'" in lines[0], lines[0]
    assert not (tmp_path / "models").exists() and not (tmp_path / "results").exists()


BLOCKER = """
import sys
for m in sys.argv[1].split(","): sys.modules[m] = None   # as if not installed: an import fails, find_spec says None
from sembed.cli import main
from sembed.methods import load_plugins
load_plugins()   # every module of the package imports without the pipeline's packages
main(["eval", "--model", sys.argv[2], "--pooler", "avg", "--tasks", "STS-B", "--data", sys.argv[3], "--out", sys.argv[4]])
"""


def test_evaluation_needs_no_pipeline_package(tmp_path):
    "What a plain `pip install sembed` has: every module imports, and `sembed eval --model` scores a model."
    write_toy_data(tmp_path / "data")
    tiny_encoder("avg").save_pretrained(tmp_path / "tiny")
    (tmp_path / "block.py").write_text(BLOCKER)
    p = subprocess.run([sys.executable, str(tmp_path / "block.py"), ",".join(BLOCKED), str(tmp_path / "tiny"), str(tmp_path / "data"),
                        str(tmp_path / "r.json")], cwd=tmp_path, capture_output=True, text=True,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "SEMBED_CACHE_DIR": str(tmp_path / "cache")})
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((tmp_path / "r.json").read_text())["tasks"]["STS-B"]["n"] == 6
