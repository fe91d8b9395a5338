"""WhiteningBERT (layer pairs) and Ditto (attention heads): options chosen on STS-B dev when the row is built
(`Method.select`), recorded and read back by evaluation; a layer or head outside the model is refused before any work
with one line, exit 2, nothing written."""
import json, sys
from pathlib import Path
import numpy as np, pytest, yaml
from conftest import run_sembed, error_lines

sys.path.insert(0, str(Path(__file__).parent))


def _project(tmp_path, method, settings, paper=None):
    "A tiny model (2 layers, 2 heads, hidden size 32) and params with one row 'r' of `method`."
    from _tiny import tiny_encoder
    model = tmp_path / "tiny"
    tiny_encoder("avg").save_pretrained(model)
    paper = paper or method
    params = {"seed": 1, "scale": "smoke", "papers": [paper],
              "experiments": {"r": {"paper": paper, "method": method, "scales": {"smoke": {"model": str(model), **settings}}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _train(p, data):
    return run_sembed("train", "--experiment", "r", "--params", p / "params.yaml", "--data", data,
                      "--out", p / "models" / "r", "--results", p / "results", cwd=p)


@pytest.mark.parametrize("method,settings,msg", [   # the other bad settings: nbs/19_whiteningbert, nbs/20_ditto (in-process)
    ("whiteningbert", {"layers": [1, 3]}, "layers: bad value [1, 3] (two hidden_states indices 0 <= i <= j <= 2"),
    ("ditto", {"layer": 0, "head": 2}, "head: bad value 2 (0 to 1: heads per layer)"),
])
def test_layer_or_head_outside_the_model_refused(tmp_path, method, settings, msg):
    p = _project(tmp_path, method, settings)
    r = _train(p, tmp_path / "data")   # fails before any data is read
    assert r.returncode == 2, r.stderr[-2000:]
    lines = error_lines(r)
    assert len(lines) == 1 and msg in lines[0], r.stderr[-2000:]
    assert not (p / "models" / "r").exists() and not (p / "results" / "r.train.json").exists()


@pytest.mark.parametrize("method,settings,n_grid,chosen_keys", [
    ("whiteningbert", {"layers": None, "whiten": True}, 6, ["layers"]),   # 3 states: (0,0) (0,1) (0,2) (1,1) (1,2) (2,2)
    ("ditto", {"layer": None, "head": None}, 4, ["layer", "head"]),       # 2 layers x 2 heads
])
def test_selection_on_stsb_dev_is_recorded_and_used(tmp_path, mirror, method, settings, n_grid, chosen_keys):
    "The real STS-B dev set, a tiny model: the grid, the choice (the best dev score) and evaluation reading it back."
    p = _project(tmp_path, method, settings)
    r = _train(p, mirror)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((p / "results" / "r.train.json").read_text())
    sel = summary["selection"]
    assert sel["on"].startswith("STS-B dev") and len(sel["grid"]) == n_grid and sorted(sel["choice"]) == sorted(chosen_keys)
    score = "whitened" if method == "whiteningbert" else "spearman"
    best = max(sel["grid"], key=lambda g: g[score])
    assert [g for g in sel["grid"] if g["chosen"]] == [best]
    meta = json.loads((p / "models" / "r" / "sembed.json").read_text())
    assert meta["selected"] == sel["choice"]
    from sembed.core import load_params
    from sembed.experiments import get_experiment, row_options
    exp = get_experiment(load_params(p / "params.yaml"), "r", data_root=mirror)
    opts = row_options(exp, p / "models")
    assert all(getattr(opts, k) == v for k, v in sel["choice"].items())
    assert opts.pooler == (f"avg_layers_{best['i']}_{best['j']}" if method == "whiteningbert" else f"ditto_{best['layer']}_{best['head']}")
    r = run_sembed("eval", "--experiment", "r", "--params", p / "params.yaml", "--data", mirror, "--models", p / "models",
                   "--tasks", "STS-B", "--split", "dev", "--out", p / "results" / "r.json", cwd=p,
                   env={"SEMBED_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((p / "results" / "r.json").read_text())
    assert res["pooler"] == opts.pooler
    # evaluation on STS-B dev reproduces the grid's score of the chosen cell (whitening: fitted on the same slots)
    assert abs(res["tasks"]["STS-B"]["spearman"] - best[score]) < 1e-3 * max(1.0, abs(best[score]))
