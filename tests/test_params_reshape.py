"""params.yaml's reshaping into defaults + differences (issue 28, point 6, acceptance 4): every row's resolved settings
are those of the fixture tests/fixtures/resolved_settings.json, generated from params.yaml before the reshaping (commit
b1c0a96) by `python tests/test_params_reshape.py --write`. Paper scale (each `base:` alternative included) is identical;
smoke and full too, except the intended changes listed in SHARED: the identical "before training" rows became one
shared row each (the removed ids disappear, the rows pointing at them point at the shared one)."""
import copy, json, os, sys
from pathlib import Path
from sembed.core import load_params
from sembed.experiments import SCALES, configured, experiment, experiments

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "resolved_settings.json"
SPEC_FLAGS = ("geometry", "isotropy", "sweep", "layer_grid", "baseline", "protocol", "label", "paper", "smoke_only")


def _resolved(e) -> dict:
    cfg = e.config.model_dump(mode="json")
    return json.loads(json.dumps({"id": e.id, "scale": e.scale, "method": e.method.name, "model": e.model, "compare": e.compare,
                                  "data": e.data, "tasks": e.tasks, "pairs": e.pairs, "seed": e.seed, "settings": e.settings,
                                  "config": cfg, "spec": {f: getattr(e.spec, f, None) for f in SPEC_FLAGS}}))


def _alternatives(params) -> dict:
    "{row id: [its paper scale's `base:` alternatives]}"
    out = {}
    for k, row in params["experiments"].items():
        s = (row.get("scales") or {}).get("paper") or {}
        if "base" in s: out[k] = [a for a, v in s.items() if isinstance(v, dict)]
    return out


def resolve_all(params) -> dict:
    "{'<id>@<scale>' (and '<id>@paper.<base>', 'configured:<id>@paper'): resolved settings} of every row of `params`."
    out = {}
    for sc in SCALES:
        for k, e in experiments(params, sc, data_root="data").items(): out[f"{k}@{sc}"] = _resolved(e)
    for k, alts in _alternatives(params).items():
        for a in alts:
            p = copy.deepcopy(params)
            p["experiments"][k]["scales"]["paper"]["base"] = a
            out[f"{k}@paper.{a}"] = _resolved(experiment(p, k, "paper", data_root="data"))
    hub = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "0"   # DiffCSE's generator is a hub model: its row builds where the hub is on
    try:
        for k, (_, e) in configured(params, "paper", data_root="data").items(): out[f"configured:{k}@paper"] = _resolved(e)
    finally:
        if hub is None: os.environ.pop("HF_HUB_OFFLINE")
        else: os.environ["HF_HUB_OFFLINE"] = hub
    return out


# the intended changes at smoke and full: removed "before training" rows -> the shared row that replaces them
SHARED = {"sbert-base-avg": "base-avg", "consert-base-avg": "base-avg", "pcc-base-avg": "base-avg",
          "cosent-base-cls": "base-cls", "angle-base-cls": "base-cls", "esimcse-base-cls": "base-cls"}


def _expected(old: dict) -> dict:
    "The fixture with the intended changes applied."
    want = {}
    for key, r in old.items():
        rid, at = key.split("@")
        if rid in SHARED: continue
        r = copy.deepcopy(r)
        if r["spec"]["baseline"] in SHARED: r["spec"]["baseline"] = SHARED[r["spec"]["baseline"]]
        want[key] = r
    return want


def test_resolved_settings_unchanged():
    old, new = json.loads(FIXTURE.read_text()), resolve_all(load_params(ROOT / "params.yaml"))
    want = _expected(old)
    shared = {v for v in SHARED.values() if f"{v}@smoke" not in old}   # shared rows that are new ids: their settings are those of the rows they replace
    for s in shared:
        for sc in SCALES:
            src = sorted(k for k, v in SHARED.items() if v == s)
            ref = old[f"{src[0]}@{sc}"]
            for k in src[1:]:   # the rows it replaces were identical but for their id, paper and label
                assert {**old[f"{k}@{sc}"], "id": None, "spec": {**old[f"{k}@{sc}"]["spec"], "paper": None, "label": None}} == \
                       {**ref, "id": None, "spec": {**ref["spec"], "paper": None, "label": None}}, (k, sc)
            got = new.pop(f"{s}@{sc}")
            assert {**got, "id": None, "spec": {**got["spec"], "paper": None, "label": None}} == \
                   {**ref, "id": None, "spec": {**ref["spec"], "paper": None, "label": None}}, (s, sc)
    assert sorted(new) == sorted(want)
    for k in want: assert new[k] == want[k], k
    paper = {k: v for k, v in old.items() if "@paper" in k and k.split("@")[0] not in SHARED}
    assert all(new[k]["settings"] == v["settings"] and new[k]["config"] == v["config"] for k, v in paper.items())


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(resolve_all(load_params(ROOT / "params.yaml")), indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")
