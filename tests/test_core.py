"""Provenance: the git commit recorded with a result is the one of the code that ran, whatever the working folder."""
import os, subprocess
from conftest import ROOT


def test_git_commit_is_the_codes_checkout_from_any_working_folder(tmp_path):
    "A run started outside the checkout (e.g. a long `full` run from a scratch folder) still records the code's commit."
    from sembed.core import git_commit
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    old = os.getcwd()
    try:
        os.chdir(tmp_path)   # not a git checkout
        c = git_commit()
    finally: os.chdir(old)
    assert c.split("+")[0] == head, (c, head)
    assert git_commit(tmp_path) == "unknown"   # asked about a folder outside any checkout
    assert git_commit(ROOT / "sembed") == git_commit(ROOT)   # a subfolder names the whole checkout, dirty state included


def test_a_dvc_stage_records_its_wall_time(tmp_path):
    "Under `dvc repro` (DVC_STAGE set) a sembed command appends its wall time for `invoke budget`; outside, nothing."
    from conftest import run_sembed
    from sembed.core import STAGE_TIMES, stage_times
    assert run_sembed("methods", env={"DVC_STAGE": "row@x", "DVC_ROOT": str(tmp_path)}).returncode == 0
    assert run_sembed("eval", "--model", "no-such-model", "--out", tmp_path / "r.json",
                      env={"DVC_STAGE": "row@y", "DVC_ROOT": str(tmp_path)}).returncode == 2
    t = stage_times(tmp_path)
    assert sorted(t) == ["row@x", "row@y"] and t["row@x"]["status"] == "ok" and t["row@y"]["status"] == "failed"
    assert not (tmp_path / "results").exists() and (tmp_path / STAGE_TIMES).is_file()
