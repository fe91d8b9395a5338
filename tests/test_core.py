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
