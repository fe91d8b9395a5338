"""Rows that sweep their options (`sweep:`), rows scored on a subset of tasks (`tasks:`), the isotropy measurement
(`isotropy: true`), and the two training-free papers built on them: whitening variants (nbs/21) and truncation
(nbs/22). Bad settings are one line, exit 2, nothing written."""
import json, sys
from pathlib import Path
import numpy as np, pytest, yaml
from conftest import run_sembed, error_lines

sys.path.insert(0, str(Path(__file__).parent))


def _project(tmp_path, rows, papers=("embedding-redundancy",)):
    "A tiny model (hidden size 32) and params with `rows` ({id: spec}, `model` filled in)."
    from _tiny import tiny_encoder
    model = tmp_path / "tiny"
    tiny_encoder("avg").save_pretrained(model)
    for spec in rows.values():
        for s in spec["scales"].values(): s.setdefault("model", str(model))
    params = {"seed": 1, "scale": "smoke", "papers": list(papers), "experiments": rows}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def _run(p, cmd, rid, data, **kw):
    if cmd == "train":
        return run_sembed("train", "--experiment", rid, "--params", p / "params.yaml", "--data", data,
                          "--out", p / "models" / rid, "--results", p / "results", cwd=p, **kw)
    return run_sembed("eval", "--experiment", rid, "--params", p / "params.yaml", "--data", data, "--models", p / "models",
                      "--out", p / "results" / f"{rid}.json", cwd=p, **kw)


TRUNC = {"paper": "embedding-redundancy", "method": "truncate"}


@pytest.mark.parametrize("spec,msg", [
    ({**TRUNC, "scales": {"smoke": {"pooler": "avg", "d": 0}}}, "field d: bad value 0"),
    ({**TRUNC, "scales": {"smoke": {"pooler": "avg", "d": 33}}}, "d: bad value 33 (an integer from 1 to the dimension 32)"),
    ({**TRUNC, "sweep": {"d": [4, 40]}, "scales": {"smoke": {"pooler": "avg", "d": 4}}}, "d: bad value 40 (an integer from 1 to the dimension 32)"),
    ({**TRUNC, "sweep": {"d": [4, -1]}, "scales": {"smoke": {"pooler": "avg", "d": 4}}}, "sweep {'d': -1}: field d: bad value -1"),
    ({**TRUNC, "sweep": {"width": [4]}, "scales": {"smoke": {"pooler": "avg", "d": 4}}}, "sweep: unknown option 'width' of method 'truncate'"),
    ({**TRUNC, "sweep": {"d": []}, "scales": {"smoke": {"pooler": "avg", "d": 4}}}, "sweep: d: bad value [] (a non-empty list"),
    ({**TRUNC, "scales": {"smoke": {"pooler": "avg", "d": 4, "strategy": "middle"}}}, "strategy: unknown value 'middle'"),
    ({**TRUNC, "scales": {"smoke": {"pooler": "avg", "d": 4, "tasks": ["STS-C"]}}}, "field tasks: bad value 'STS-C'"),
    ({**TRUNC, "isotropy": True, "scales": {"smoke": {"pooler": "avg", "d": 4}}}, "isotropy: method 'truncate' is fitted on each evaluated task"),
    ({"paper": "whitening-not-recommended", "method": "whitening-variant", "sweep": {"variant": ["pca", "zca-corr"]},
      "scales": {"smoke": {"pooler": "avg"}}}, "variant: unknown value 'zca-corr'"),
])
def test_bad_truncation_and_sweep_settings_refused(tmp_path, spec, msg):
    p = _project(tmp_path, {"r": spec}, papers=(spec["paper"],))
    r = _run(p, "train", "r", tmp_path / "data")   # fails before any data is read
    assert r.returncode == 2, r.stderr[-2000:]
    lines = error_lines(r)
    assert len(lines) == 1 and msg in lines[0], r.stderr[-2000:]
    assert not (p / "models" / "r").exists() and not (p / "results" / "r.train.json").exists()


def test_sweep_tasks_and_isotropy_on_the_real_stsb(tmp_path, mirror):
    "A truncation row on STS-B test only, swept over strategy x d: every combination scored, the row's own setting equal "
    "to its combination in the sweep, d = 32 'first' equal to the untransformed baseline; the baseline's isotropy recorded."
    rows = {"base": {"method": "pooler", "isotropy": True, "scales": {"smoke": {"pooler": "avg", "tasks": ["STS-B"]}}},
            "r": {**TRUNC, "baseline": "base", "sweep": {"strategy": ["first", "random", "pca"], "d": [2, 8, 32]},
                  "scales": {"smoke": {"pooler": "avg", "strategy": "first", "d": 8, "tasks": ["STS-B"]}}}}
    p = _project(tmp_path, rows)
    env = {"SEMBED_CACHE_DIR": str(tmp_path / "cache")}
    for rid in ("base", "r"):
        for cmd in ("train", "eval"):
            r = _run(p, cmd, rid, mirror, env=env)
            assert r.returncode == 0, r.stderr[-2000:]
    base = json.loads((p / "results" / "base.json").read_text())
    res = json.loads((p / "results" / "r.json").read_text())
    assert list(base["tasks"]) == ["STS-B"] and list(res["tasks"]) == ["STS-B"]
    iso = base["isotropy"]
    assert iso["dim"] == 32 and iso["n"] > 2000 and 0 < iso["isoscore"] <= 1 and 1 < iso["twonn"] < 32 and 1 <= iso["pca90"] <= 32
    sw = res["sweep"]
    assert sw["fields"] == ["strategy", "d"] and sw["tasks"] == ["STS-B"] and len(sw["rows"]) == 9
    by = {(x["values"]["strategy"], x["values"]["d"]): x["tasks"]["STS-B"]["spearman"] for x in sw["rows"]}
    tol = lambda a: 1e-6 * max(1.0, abs(a))
    assert abs(by[("first", 8)] - res["tasks"]["STS-B"]["spearman"]) <= tol(by[("first", 8)])
    assert abs(by[("first", 32)] - base["tasks"]["STS-B"]["spearman"]) <= 1e-4 * max(1.0, abs(by[("first", 32)]))
    assert abs(by[("random", 32)] - by[("first", 32)]) <= 1e-4 * max(1.0, abs(by[("first", 32)]))   # all dims, permuted
    assert len({round(v, 6) for v in by.values()}) > 3   # the settings do differ
    # the report shows the sweep and the isotropy table
    from sembed import report as R
    data = R.report_data("embedding-redundancy", p)
    t = R.sweep_table(data["experiments"]["r"])
    assert t.shape == (9, 3) and np.isclose(t.loc[("first", 32), "Δ avg vs baseline"], 0, atol=1e-2)
    assert "TwoNN" in R.isotropy_table(data).columns and R.plot_sweep(data["experiments"]["r"]) is not None


def test_whitening_variants_give_the_same_sts_scores(tmp_path, mirror):
    "The five whitenings differ by a rotation (nbs/21): on real STS-B pairs their Spearman values agree."
    rows = {"w": {"paper": "whitening-not-recommended", "method": "whitening-variant",
                  "sweep": {"variant": ["pca", "zca", "pca-cor", "zca-cor", "cholesky"]},
                  "scales": {"smoke": {"pooler": "avg", "shrinkage": 1.0e-6, "tasks": ["STS-B"]}}}}
    p = _project(tmp_path, rows, papers=("whitening-not-recommended",))
    env = {"SEMBED_CACHE_DIR": str(tmp_path / "cache")}
    for cmd in ("train", "eval"):
        r = _run(p, cmd, "w", mirror, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
    sw = json.loads((p / "results" / "w.json").read_text())["sweep"]
    s = [x["tasks"]["STS-B"]["spearman"] for x in sw["rows"]]
    assert len(s) == 5 and max(s) - min(s) <= 1e-4 * max(1.0, abs(s[0])), s


def test_transfer_fits_a_task_transform_on_each_tasks_own_sentences(tmp_path):
    "`evaluate_transfer(adapt=...)`: called once per task with the vectors of that task's distinct sentences; an identity "
    "adapter changes nothing."
    from sembed.transfer import TRANSFER_TASKS, evaluate_transfer, write_toy_transfer
    data = write_toy_transfer(tmp_path / "data")
    rng = np.random.default_rng(0); vec = {}
    enc = lambda sents: np.stack([vec.setdefault(s, rng.normal(size=8)) for s in sents])
    calls = {}
    def adapt(task, X):
        calls[task] = X.shape
        return lambda e: e
    plain = evaluate_transfer(enc, root=data, kfold=3, n_jobs=1, progress=False)
    seen = []
    enc2 = lambda sents: (seen.append(len(sents)), enc(sents))[1]
    adapted = evaluate_transfer(enc2, root=data, kfold=3, n_jobs=1, progress=False, adapt=adapt)
    assert sorted(calls) == sorted(TRANSFER_TASKS) and [calls[t][0] for t in TRANSFER_TASKS] == seen
    assert {t: v["acc"] for t, v in adapted["tasks"].items()} == {t: v["acc"] for t, v in plain["tasks"].items()}


def test_task_fitted_row_on_the_transfer_tasks(tmp_path):
    "A `fit_task` transform row (PCA to 4 dimensions) listed in transfer.experiments: scored with each task's own fit."
    from sembed.transfer import write_toy_transfer
    rows = {"r": {**TRUNC, "scales": {"smoke": {"pooler": "avg", "strategy": "pca", "d": 4}}}}
    p = _project(tmp_path, rows)
    params = yaml.safe_load((p / "params.yaml").read_text()); params["transfer"] = {"kfold": 3, "experiments": ["r"]}
    (p / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    data = write_toy_transfer(tmp_path / "data")
    env = {"SEMBED_CACHE_DIR": str(tmp_path / "cache"), "SEMBED_JOBS": "1"}
    assert _run(p, "train", "r", data, env=env).returncode == 0
    r = run_sembed("eval", "--experiment", "r", "--protocol", "transfer", "--params", p / "params.yaml", "--data", data,
                   "--models", p / "models", "--out", p / "results" / "r.transfer.json", cwd=p, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((p / "results" / "r.transfer.json").read_text())
    assert res["protocol"] == "transfer" and len(res["tasks"]) == 7 and all(0 <= v["acc"] <= 100 for v in res["tasks"].values())


def _no_prov(d):
    return {k: v for k, v in d.items() if k != "provenance"}


def test_run_is_train_then_eval(tmp_path, mirror):
    "`sembed run` (what the pipeline's row@<id> runs) writes what `sembed train` then `sembed eval --experiment` write: "
    "the same model folder, logs and scores (provenance aside), here for a swept row with a transform fitted on its task."
    rows = {"r": {**TRUNC, "sweep": {"d": [4, 32]}, "scales": {"smoke": {"pooler": "avg", "strategy": "pca", "d": 8, "tasks": ["STS-B"]}}}}
    p = _project(tmp_path, rows)
    env = {"SEMBED_CACHE_DIR": str(tmp_path / "cache")}
    for cmd in ("train", "eval"):
        assert _run(p, cmd, "r", mirror, env=env).returncode == 0
    r = run_sembed("run", "--experiment", "r", "--params", p / "params.yaml", "--data", mirror, "--models", p / "models2",
                   "--results", p / "results2", cwd=p, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "STS-B" in r.stdout   # the score table, as `sembed eval` prints it
    files = lambda d: sorted(f.name for f in d.iterdir())
    assert files(p / "results2") == files(p / "results") and files(p / "models2" / "r") == files(p / "models" / "r")
    assert files(p / "results" / "runs") == files(p / "results2" / "runs") == ["r.json", "r.train.json"]   # the runs' records
    for f in files(p / "results"):
        if f == "runs": continue
        a, b = (p / "results" / f).read_text(), (p / "results2" / f).read_text()
        assert (_no_prov(json.loads(a)) == _no_prov(json.loads(b))) if f.endswith(".json") else a == b, f
    assert (p / "models" / "r" / "sembed.json").read_text() == (p / "models2" / "r" / "sembed.json").read_text()
    assert len(json.loads((p / "results2" / "r.json").read_text())["sweep"]["rows"]) == 2


def test_run_checks_the_scored_tasks_before_building(tmp_path):
    "A row's STS data missing: `sembed run` stops with one line before the row is built (no model folder, no logs)."
    p = _project(tmp_path, {"r": {**TRUNC, "scales": {"smoke": {"pooler": "avg", "d": 4, "tasks": ["STS-B"]}}}})
    r = run_sembed("run", "--experiment", "r", "--params", p / "params.yaml", "--data", tmp_path / "nodata", "--models", p / "models",
                   "--results", p / "results", cwd=p)
    assert r.returncode == 2 and len(error_lines(r)) == 1 and "STSBenchmark/sts-test.csv: file not found" in error_lines(r)[0], r.stderr[-2000:]
    assert not (p / "models" / "r").exists() and not (p / "results" / "r.train.json").exists()
