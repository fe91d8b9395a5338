"""Rows measured once at `full` and committed: stale detection (issue: evidence at full, acceptance 3). Changing a row's
learning rate, or its method's code, in a temporary copy marks exactly that row stale in the leaderboard, and
`invoke measure --stale --dry-run` lists exactly the rows that are missing or stale."""
import json, subprocess, sys
from pathlib import Path
import yaml
from conftest import ROOT
from sembed.measure import measure_plan
from sembed.report import leaderboard_rows, synthetic_results

INVOKE = str(Path(sys.executable).parent / "invoke")


def measured_repo(d: Path) -> Path:
    "params at smoke; every SimCSE row (and the plain baselines) with a synthetic result committed at full."
    synthetic_results(d / "m", paper_id="simcse", scale="full")
    p = yaml.safe_load((d / "m/params.yaml").read_text()); p["scale"] = "smoke"
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    (d / "measured/full").mkdir(parents=True); (d / "m/results").rename(d / "measured/full/results")
    return d


def stale_rows(d):
    return sorted(r["experiment"] for r in leaderboard_rows(d) if r["status"] == "stale")


def dry_run(d):
    p = subprocess.run([INVOKE, "measure", "--stale", "--dry-run", "--root", str(d)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    return sorted(l.split("|")[1].strip() for l in p.stdout.splitlines() if l.startswith("| ") and not l.startswith("| row"))


def test_a_changed_learning_rate_marks_exactly_that_row(tmp_path):
    d = measured_repo(tmp_path)
    assert stale_rows(d) == [] and dry_run(d) == []
    p = yaml.safe_load((d / "params.yaml").read_text())
    p["experiments"]["simcse-unsup"]["scales"]["smoke"]["learning_rate"] = 1.0e-4   # full takes smoke's settings
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    assert stale_rows(d) == ["simcse-unsup"]
    assert dry_run(d) == ["simcse-unsup"]


def test_changed_method_code_marks_exactly_its_rows(tmp_path):
    "A result whose recorded code of its method differs from today's (as after editing the method's module)."
    d = measured_repo(tmp_path)
    f = d / "measured/full/results/simcse-sup.json"
    r = json.loads(f.read_text()); r["provenance"]["method_code"]["sembed.simcse"] = "0" * 16; f.write_text(json.dumps(r))
    assert stale_rows(d) == ["simcse-sup"]
    assert dry_run(d) == ["simcse-sup"]
    why = {x["id"]: x["why"] for x in measure_plan(d)}["simcse-sup"]
    assert "code of method simcse-sup changed" in why and "sembed.simcse" in why and "invoke measure" in why


def test_missing_rows_are_listed(tmp_path):
    d = measured_repo(tmp_path)
    (d / "measured/full/results/simcse-base-cls.json").unlink()
    assert dry_run(d) == ["simcse-base-cls"]
