"""Outputs that DVC can share (issue 31, point 9): a row's outputs are the same bytes on every commit that leaves its
code and inputs unchanged, so a DVC remote or run-cache can serve them. The run's own facts (git commit, machine, wall
time, training speed) go to run records under results/runs/, which no stage declares and `.dvcignore` leaves out of
the `results` folder the reports depend on; the leaderboard still shows the commit, read from the record."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest, yaml
from conftest import ROOT, run_sembed
from _tiny import SENTS, tiny_encoder
import sembed.core
from sembed.data import write_toy_data
from sembed.report import leaderboard_rows

ROWS = ["tiny-avg", "tiny-unsup"]


def _git(repo, *args):
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture()
def project(tmp_path):
    "A tiny project (a training-free row and a 2-step trained row on a tiny BERT, toy data) and a git checkout with a README."
    p = tmp_path / "proj"
    tiny_encoder("cls_before_pooler").save_pretrained(tmp_path / "tiny-bert")
    write_toy_data(p / "data")
    (p / "data" / "train").mkdir()
    (p / "data" / "train" / "wiki1m_for_simcse.txt").write_text("\n".join(SENTS) + "\n")
    model = str(tmp_path / "tiny-bert")
    params = {"seed": 1, "scale": "smoke", "experiments": {
        "tiny-avg": {"method": "pooler", "scales": {"smoke": {"model": model, "pooler": "avg", "tasks": ["STS-B", "SICK-R"]}}},
        "tiny-unsup": {"method": "simcse-unsup", "scales": {"smoke": {
            "model": model, "data": "wiki1m_for_simcse", "batch_size": 8, "max_steps": 2, "learning_rate": 1.0e-3,
            "eval_steps": 0, "save_steps": 0, "log_steps": 1, "tasks": ["STS-B", "SICK-R"]}}}}}
    (p / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repo = tmp_path / "checkout"   # stands for the checkout the code runs from
    repo.mkdir(); (repo / "README.md").write_text("# sembed\n")
    _git(repo, "init", "-q"); _git(repo, "add", "README.md"); _git(repo, "commit", "-qm", "first")
    return p, repo


def _run_rows(p, monkeypatch, repo):
    monkeypatch.setattr(sembed.core, "_code_root", lambda: repo)   # git_commit() asks this checkout
    for r in ROWS:
        q = run_sembed("run", "--experiment", r, "--params", "params.yaml", "--data", "data", "--models", "models",
                       "--results", "results", "--no-resume", cwd=p, env={"SEMBED_CACHE_DIR": str(p / "cache")})
        assert q.returncode == 0, q.stderr[-3000:]


def _outputs(p) -> dict:
    "{path: bytes} of what the row stages declare: models/<id> (less the cards .dvcignore leaves out) and results/<id>.*."
    out = {}
    for f in sorted((p / "models").rglob("*")) + sorted((p / "results").glob("*")):
        if f.is_file() and f.name != "README.md": out[str(f.relative_to(p))] = f.read_bytes()
    return out


def test_a_readme_only_commit_leaves_every_output_byte_identical(project, monkeypatch):
    "Two runs of each row from two commits that differ only in README.md: the same bytes; the record and the leaderboard name the commit."
    p, repo = project
    _run_rows(p, monkeypatch, repo)
    first, c1 = _outputs(p), _git(repo, "rev-parse", "HEAD")
    assert {f"results/{r}{s}" for r in ROWS for s in (".json", ".train.json", ".train_loss.csv", ".dev.csv")} <= set(first)
    (repo / "README.md").write_text("# sembed\n\nBetter words.\n")
    _git(repo, "commit", "-qam", "README only")
    c2 = _git(repo, "rev-parse", "HEAD")
    assert c2 != c1
    _run_rows(p, monkeypatch, repo)
    second = _outputs(p)
    assert sorted(second) == sorted(first)
    assert [f for f in first if first[f] != second[f]] == []   # byte for byte, models and results alike
    for r in ROWS:   # the result keeps the code's hash, not the commit
        prov = json.loads((p / "results" / f"{r}.json").read_text())["provenance"]
        assert "git_commit" not in prov and prov["code"] == sembed.core.code_hash()
        rec = json.loads((p / "results" / "runs" / f"{r}.json").read_text())   # the run's facts: in its record
        assert rec["git_commit"] == c2 and rec["wall_s"] >= 0 and rec["file"] == f"{r}.json"
    train = json.loads((p / "results" / "runs" / "tiny-unsup.train.json").read_text())["train"]
    assert train["seconds"] > 0 and "steps_per_second" in train   # training speed: not in the summary either
    assert not list((p / "results").glob("*speed*"))
    # the reports read the commit from the record
    rows = {r["experiment"]: r for r in leaderboard_rows(p)}
    assert rows["tiny-avg"]["git_commit"] == c2 and rows["tiny-unsup"]["git_commit"] == c2
    # a result whose record describes other bytes (e.g. one restored from the DVC cache), or with none: not recorded
    f = p / "results" / "tiny-avg.json"
    f.write_text(f.read_text().replace('"avg"', '"avg" ', 1))
    (p / "results" / "runs" / "tiny-unsup.json").unlink()
    rows = {r["experiment"]: r for r in leaderboard_rows(p)}
    assert rows["tiny-avg"]["git_commit"] == "not recorded" and rows["tiny-unsup"]["git_commit"] == "not recorded"


def test_dvc_ignores_the_run_records():
    "The `results` folder the cards and reports stages depend on hashes the same whatever the run records hold."
    dvc = Path(sys.executable).parent / "dvc"
    p = subprocess.run([str(dvc), "check-ignore", "results/runs/row.json", "results/row.json"], cwd=ROOT, capture_output=True, text=True)
    assert p.stdout.split() == ["results/runs/row.json"], p.stdout + p.stderr
