"""Experiment ids name files and folders (models/<id>, results/<id>.json, ...): an id that leads outside the project is
refused, with one error line naming the params file, before anything is written or removed (issue 32, point 1)."""
import dataclasses
import pytest, yaml
from conftest import error_lines, run_sembed
from _tiny import tiny_encoder
from sembed.core import SembedError
from sembed.data import write_toy_data
from sembed.experiments import experiment, run


def _files(root):
    "{relative path: bytes} of every file under `root` (what a run may not change)."
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def project(tmp_path):
    """tmp/proj: toy data and a tiny model; tmp/victim/keep.txt is two levels above proj/models (models/../../victim),
    and `..` names proj itself (models/..)."""
    proj, victim = tmp_path / "proj", tmp_path / "victim"
    victim.mkdir(); (victim / "keep.txt").write_text("precious")
    write_toy_data(proj / "data")
    tiny_encoder("avg").save_pretrained(tmp_path / "tiny")
    return proj


ROW = {"method": "pooler", "scales": {"smoke": {"pooler": "avg", "tasks": ["STS-B"]}}}


@pytest.mark.parametrize("bad", ["../../victim", ".."])
def test_run_refuses_an_id_leading_outside(project, bad):
    row = {**ROW, "scales": {"smoke": {**ROW["scales"]["smoke"], "model": str(project.parent / "tiny")}}}
    ids = [bad] + [i for i in ("../../victim", "..", "ok-row") if i != bad]   # the run's id first: the one the message names
    (project / "p.yaml").write_text(yaml.safe_dump({"seed": 0, "scale": "smoke", "experiments": {i: row for i in ids}}, sort_keys=False))
    before = _files(project.parent)
    p = run_sembed("run", "--experiment", bad, "--params", "p.yaml", "--data", "data", "--models", "models", "--results", "results",
                   "--no-resume", cwd=project, env={"SEMBED_CACHE_DIR": str(project.parent / "cache")})
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr[-2000:]
    assert f"p.yaml: experiments: bad id '{bad}'" in lines[0], lines[0]
    assert (project.parent / "victim" / "keep.txt").read_text() == "precious"
    assert _files(project.parent) == before   # nothing written or removed: not models/, results/, nor outside the project


def test_paths_built_from_an_id_stay_inside(project):
    "The second guard: a row whose id never went through params validation still cannot write outside --models / --results."
    row = {**ROW, "scales": {"smoke": {**ROW["scales"]["smoke"], "model": str(project.parent / "tiny")}}}
    with pytest.raises(SembedError, match=r"params\.yaml: experiments: bad id '\.\./\.\./victim'"):
        experiment({"scale": "smoke", "experiments": {"../../victim": row}}, "../../victim")   # a dict built in code
    good = experiment({"scale": "smoke", "experiments": {"ok-row": row}}, "ok-row")
    before = _files(project.parent)
    for bad in ["../../victim", ".."]:
        with pytest.raises(SembedError, match="outside"):
            run(dataclasses.replace(good, id=bad), data_root=project / "data", models=project / "models", results=project / "results")
    assert _files(project.parent) == before
