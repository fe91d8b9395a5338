"""A failing DVC run must not destroy first (issue 32, point 6): DVC removes a stage's outputs before its command runs, so
the params are validated by a stage of their own, `validate` (`sembed check-params`), that every other stage depends on;
`invoke repro --scale X` refuses a bad X before `dvc exp run -S` writes it into params.yaml. Fast: no pipeline run."""
import os, shutil, subprocess, sys
from pathlib import Path
import networkx as nx
import pytest, yaml
from conftest import ROOT, error_lines, run_sembed


def test_every_stage_runs_after_validate():
    "DVC's own graph of dvc.yaml (foreach rows expanded): every stage is downstream of `validate`, which has one constant stamp output."
    from dvc.repo import Repo
    with Repo(str(ROOT)) as repo:
        g = repo.index.graph   # an edge (a, b): stage a depends on an output of stage b
        stages = {s.addressing: s for s in g.nodes}
        v = stages["validate"]
        assert v.cmd.startswith("sembed check-params --params params.yaml")
        assert [(str(o.def_path), o.use_cache) for o in v.outs] == [("data/params.checked", False)]
        assert {str(d.def_path) for d in v.deps} == {"params.yaml", "sembed"}
        after = nx.ancestors(g, v)
        assert len(stages) > 50 and set(stages.values()) - after == {v}, sorted(set(stages) - {s.addressing for s in after})


def _params(tmp_path, **edit):
    p = yaml.safe_load((ROOT / "params.yaml").read_text()); p.update(edit)
    f = tmp_path / "p.yaml"; f.write_text(yaml.safe_dump(p, sort_keys=False)); return f


def test_check_params(tmp_path):
    from sembed.cli import CHECKED_STAMP
    ok = run_sembed("check-params", "--params", _params(tmp_path), "--out", tmp_path / "data" / "params.checked")
    assert ok.returncode == 0 and "experiments valid at scale smoke" in ok.stdout, ok.stderr[-2000:]
    assert (tmp_path / "data" / "params.checked").read_text() == CHECKED_STAMP   # constant: no later stage re-runs for it
    bad = run_sembed("check-params", "--params", _params(tmp_path, scale="huge"), "--out", tmp_path / "stamp")
    assert bad.returncode == 2 and len(error_lines(bad)) == 1, bad.stderr[-2000:]
    assert f"{tmp_path / 'p.yaml'}: scale: unknown value 'huge'" in error_lines(bad)[0]
    assert not (tmp_path / "stamp").exists()


def test_invoke_repro_refuses_a_bad_scale_before_params_yaml_is_touched(tmp_path):
    "In a copy of tasks.py and params.yaml (no DVC project: were dvc ever called, it would fail differently)."
    for f in ("tasks.py", "params.yaml"): shutil.copy2(ROOT / f, tmp_path / f)
    before = (tmp_path / "params.yaml").read_bytes()
    p = subprocess.run([str(Path(sys.executable).parent / "invoke"), "repro", "--scale", "huge"], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    assert p.returncode != 0, p.stdout + p.stderr
    assert "sembed: error: unknown scale 'huge'" in p.stderr and "params.yaml unchanged" in p.stderr, p.stderr
    assert (tmp_path / "params.yaml").read_bytes() == before and not (tmp_path / ".dvc").exists()
