"""Paper registry: SimCSE's reported numbers and hyperparameters are present, cited and consistent;
hyperparameter sections are keyed by method name; the old pipeline mapping (methods, baselines, geometry,
params_key) is gone and refused; unknown ids are refused with one line listing the known ids."""
import copy
import pytest
import yaml
from sembed.core import SembedError
from sembed.registry import STS_COLUMNS, get_paper, load_registry, paper_ids, registry_path

# Spot checks against SimCSE (arXiv 2104.08821v4) Table 5.
TABLE5 = {"unsup-bert-base": (68.40, 76.85, 76.25), "unsup-roberta-base": (70.16, 80.22, 76.57),
          "unsup-roberta-large": (72.86, 81.98, 78.90), "sup-bert-base": (75.30, 84.25, 81.57),
          "sup-roberta-base": (76.53, 85.83, 82.52), "sup-roberta-large": (77.46, 86.70, 83.76),
          "bert-base-first-last-avg": (39.70, 53.87, 56.70)}


def test_simcse_entry():
    p = get_paper("simcse")
    assert p["arxiv"] == "2104.08821" and p["year"] == 2021 and "Gao" in p["authors"][0]
    assert p["tasks"] == STS_COLUMNS and p["protocol"] == "senteval"
    assert set(p["reported"]) == set(TABLE5)
    for rid, (s12, stsb, avg) in TABLE5.items():
        row = p["reported"][rid]
        assert row["table"] == "Table 5"
        assert (row["scores"]["STS12"], row["scores"]["STS-B"], row["scores"]["avg"]) == (s12, stsb, avg)
    assert p["reported"]["unsup-bert-base"]["method"] == "simcse-unsup" and p["reported"]["sup-roberta-base"]["method"] == "simcse-sup"
    assert p["reported"]["bert-base-first-last-avg"]["reference_only"] is True
    for gone in ("methods", "baselines", "geometry", "params_key"):
        assert gone not in p, gone


def test_hyperparameters_cited():
    hp = get_paper("simcse")["hyperparameters"]
    assert set(hp) == {"source", "common", "simcse-unsup", "simcse-sup"}
    un, su = hp["simcse-unsup"], hp["simcse-sup"]
    assert un["batch_size"]["bert-base"] == 64 and un["learning_rate"]["bert-base"] == 3e-5
    assert un["batch_size"]["roberta-base"] == 512 and un["learning_rate"]["roberta-base"] == 1e-5
    assert su["batch_size"]["base"] == 512 and su["learning_rate"]["base"] == 5e-5
    assert (un["epochs"]["value"], su["epochs"]["value"]) == (1, 3)
    assert (un["data"]["id"], su["data"]["id"]) == ("wiki1m_for_simcse", "nli_for_simcse")
    assert hp["common"]["temperature"]["value"] == 0.05 and hp["common"]["eval_every_steps"]["value"] == 250
    assert hp["common"]["max_seq_length"]["value"] == 32
    for sec in ("common", "simcse-unsup", "simcse-sup"):
        for name, v in hp[sec].items(): assert v.get("cite"), f"{sec}.{name} has no citation"


def test_hyperparameter_sections_are_registered_methods():
    "Each method section is a registered method of the paper (what params.yaml experiments run)."
    from sembed.methods import get_method
    p = get_paper("simcse")
    for sec in p["hyperparameters"]:
        if sec in ("source", "common"): continue
        assert get_method(sec).paper == "simcse", sec


def test_every_row_mean_is_consistent():
    for pid, p in load_registry().items():
        for rid, row in p["reported"].items():
            if row.get("not_reported"):   # a source without some task or without an average: nothing to check
                assert set(row["scores"]) | set(row["not_reported"]) == set(p["tasks"]) | {"avg"}, (pid, rid); continue
            mean = sum(row["scores"][t] for t in p["tasks"]) / len(p["tasks"])
            if row.get("avg_note"):   # the paper prints another average: the note must state the true mean
                assert f"{mean:.2f}" in row["avg_note"], (pid, rid, row["avg_note"]); continue
            assert abs(mean - row["scores"]["avg"]) <= 0.011, (pid, rid)


def test_params_compare_rows_exist():
    """Every `compare` of params.yaml names a reported row of its paper, of the same method (a pooler row may sit beside
    the paper's pretrained baseline). Reference-only rows (another base model: no Δ is computed) are shown beside ours."""
    from conftest import ROOT
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    seen, ref = 0, 0
    for eid, spec in params["experiments"].items():
        for scale, s in {**(spec.get("scales") or {}), "every scale": spec.get("settings") or {}}.items():
            for sub in ([s[k] for k in s if isinstance(s[k], dict)] if "base" in s else [s]):
                if sub.get("compare"):
                    row = get_paper(spec["paper"])["reported"][sub["compare"]]
                    assert row["method"] == spec["method"] or (row.get("reference_only") and spec["method"] == "pooler"), (eid, scale)
                    if row.get("reference_only"): ref += 1
                    else: seen += 1
    assert seen >= 6 and ref >= 10


GOOD = yaml.safe_load(registry_path().read_text())


@pytest.mark.parametrize("edit, msg", [
    (lambda p: p["reported"]["unsup-bert-base"]["scores"].update(avg=77.0), "reported.unsup-bert-base.scores.avg: 77.0 is not the task mean"),
    (lambda p: p["reported"]["sup-bert-base"].pop("table"), "reported.sup-bert-base.table: missing"),
    (lambda p: p["reported"]["sup-bert-base"].update(table=" "), "reported.sup-bert-base.table: empty"),
    (lambda p: p["reported"]["sup-bert-base"]["scores"].pop("SICK-R"), "reported.sup-bert-base.scores.SICK-R: missing"),
    (lambda p: p["reported"]["sup-bert-base"]["scores"].update(STS17=1.0), "scores.STS17: not a task of the paper"),
    (lambda p: p["reported"]["sup-bert-base"]["scores"].update(STS12="75.30"), "scores.STS12: bad value"),
    (lambda p: p["hyperparameters"]["simcse-sup"]["epochs"].pop("cite"), "hyperparameters.simcse-sup.epochs.cite: missing"),
    (lambda p: p["hyperparameters"]["common"].update(dropout={"cite": "Sec. 3"}), "hyperparameters.common.dropout: no value"),
    (lambda p: p["hyperparameters"].update(sup=p["hyperparameters"].pop("simcse-sup")), "hyperparameters.sup: unknown section"),
    (lambda p: p.update(methods={"simcse-unsup": {}}), "field 'methods' is no longer read"),
    (lambda p: p.update(params_key="simcse"), "field 'params_key' is no longer read"),
    (lambda p: p.update(tasks=["STS12", "STS99"]), "field tasks: unknown task 'STS99'"),
    (lambda p: p.pop("title"), "field title: missing"),
    (lambda p: p.update(titel="x"), "unknown field 'titel'"),
    (lambda p: p["reported"]["sup-bert-base"].pop("source"), "reported.sup-bert-base.source: missing"),
    (lambda p: p["transfer_reported"]["sup-bert-base"].pop("source"), "transfer_reported.sup-bert-base.source: missing"),
    (lambda p: p["reported"]["sup-bert-base"].update(source="paper"), "reported.sup-bert-base.source: bad value 'paper'"),
    (lambda p: p["reported"]["sup-bert-base"].update(not_reported=["SICK-R"]), "scores.SICK-R: given, but not_reported lists it"),
    (lambda p: p["reported"]["sup-bert-base"].update(not_reported=["STS17"]), "not_reported: 'STS17' is not a task of the paper or avg"),
    (lambda p: p.update(reported={}), "field not_found: missing"),
])
def test_bad_registry_refused(tmp_path, edit, msg):
    bad = copy.deepcopy(GOOD); edit(bad["papers"]["simcse"])
    f = tmp_path / "papers.yaml"; f.write_text(yaml.safe_dump(bad, allow_unicode=True))
    with pytest.raises(SembedError) as e: load_registry(f)
    assert msg in str(e.value) and "\n" not in str(e.value) and str(f) in str(e.value)


@pytest.mark.parametrize("bad", ["nonsense", "simcse'; import os", "SIMCSE", "../simcse", ""])
def test_unknown_id(bad):
    with pytest.raises(SembedError) as e: get_paper(bad)
    msg = str(e.value)
    assert "\n" not in msg and "unknown paper id" in msg and f"{len(paper_ids())} in all" in msg


def test_reported_row_lookup_is_gone():
    "Which reported row a run is compared with is the experiment's `compare`, not a guess from the model name."
    import sembed.registry as reg
    assert not hasattr(reg, "reported_row")


# Paper-scale rows on a reported row's base model and method that are deliberately not compared with it (another setting).
NOT_COMPARED = {
    "whitening-nli-avg": "mean pooling; the paper's whitening rows pool first-last average",
    "whitening-nli-avg-256": "mean pooling; the paper's whitening rows pool first-last average",
    "whitening-target-avg": "mean pooling; the paper's whitening rows pool first-last average",
    "whitening-target-avg-256": "mean pooling; the paper's whitening rows pool first-last average",
    "promptbert-template-denoise": "template denoising; the reported row has none",
    "promptbert-view1": "view 1's template ('This sentence of'); the reported row uses 'This sentence :'",
}


def test_paper_scale_rows_compare_with_their_reported_row():
    """A `paper`-scale row whose base model and method are those of a reported row of its paper names such a row in
    `compare` (so a GPU run is compared with the right row), unless NOT_COMPARED says why not. E.g. Pcc-tuning's
    Mistral-7B LoRA row is compared with the authors' results image's Mistral-7b Pcc-tuning row."""
    from conftest import ROOT
    from sembed.report import same_model
    import copy
    from sembed.core import SembedError, load_params
    from sembed.experiments import experiment
    params = load_params(ROOT / "params.yaml")
    checked = 0
    for eid, spec in params["experiments"].items():
        if not spec.get("paper"): continue
        raw = (spec.get("scales") or {}).get("paper") or {}
        for alt in ([k for k, v in raw.items() if isinstance(v, dict)] if "base" in raw else [None]):   # each `base:` alternative
            p = copy.deepcopy(params)
            if alt: p["experiments"][eid]["scales"]["paper"]["base"] = alt
            try: e = experiment(p, eid, "paper")
            except SembedError: continue   # not configured at paper scale
            rows = {rid: r for rid, r in get_paper(spec["paper"])["reported"].items()
                    if same_model(r["base_model"], e.model) and r["method"] == spec["method"]}
            if not rows or eid in NOT_COMPARED: continue
            assert e.compare in rows, (eid, e.model, sorted(rows))
            checked += 1
    assert checked >= 10
    e = experiment(params, "pcc-prompt-lora", "paper")
    pcc = {"model": e.model, "compare": e.compare}
    row = get_paper("pcc-tuning")["reported"][pcc["compare"]]
    assert same_model(row["base_model"], pcc["model"]) and row["source"] == "paper-table-image" and not row.get("reference_only")
