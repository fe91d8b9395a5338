"""Paper registry: SimCSE's reported numbers and hyperparameters are present, cited and consistent;
unknown ids are refused with one line listing the known ids (issue: replication reports)."""
import pytest
from sembed.core import SembedError
from sembed.registry import get_paper, load_registry, paper_ids, reported_row, STS_COLUMNS

# Spot checks against SimCSE (arXiv 2104.08821v4) Table 5.
TABLE5 = {"unsup-bert-base": (68.40, 76.85, 76.25), "unsup-roberta-base": (70.16, 80.22, 76.57),
          "sup-bert-base": (75.30, 84.25, 81.57), "sup-roberta-base": (76.53, 85.83, 82.52)}


def test_simcse_entry():
    p = get_paper("simcse")
    assert p["arxiv"] == "2104.08821" and p["year"] == 2021 and "Gao" in p["authors"][0]
    assert p["tasks"] == STS_COLUMNS
    for rid, (s12, stsb, avg) in TABLE5.items():
        row = p["reported"][rid]
        assert row["table"] == "Table 5"
        assert (row["scores"]["STS12"], row["scores"]["STS-B"], row["scores"]["avg"]) == (s12, stsb, avg)
    assert p["methods"]["simcse-unsup"]["results"] == "results/simcse/unsup.senteval.json"
    assert p["methods"]["simcse-sup"]["results"] == "results/simcse/sup.senteval.json"
    assert {b["results"] for b in p["baselines"].values()} == {
        "results/simcse/baseline.cls_before_pooler.senteval.json", "results/simcse/baseline.cls.senteval.json"}


def test_hyperparameters_cited():
    hp = get_paper("simcse")["hyperparameters"]
    assert hp["unsup"]["batch_size"]["bert-base"] == 64 and hp["unsup"]["learning_rate"]["bert-base"] == 3e-5
    assert hp["unsup"]["batch_size"]["roberta-base"] == 512 and hp["unsup"]["learning_rate"]["roberta-base"] == 1e-5
    assert hp["sup"]["batch_size"]["base"] == 512 and hp["sup"]["learning_rate"]["base"] == 5e-5
    assert (hp["unsup"]["epochs"]["value"], hp["sup"]["epochs"]["value"]) == (1, 3)
    assert hp["common"]["temperature"]["value"] == 0.05 and hp["common"]["eval_every_steps"]["value"] == 250
    assert hp["common"]["max_seq_length"]["value"] == 32
    for sec in ("common", "unsup", "sup"):
        for name, v in hp[sec].items(): assert v.get("cite"), f"{sec}.{name} has no citation"


def test_every_row_mean_is_consistent():
    for pid, p in load_registry().items():
        for rid, row in p["reported"].items():
            mean = sum(row["scores"][t] for t in p["tasks"]) / len(p["tasks"])
            assert abs(mean - row["scores"]["avg"]) <= 0.011, (pid, rid)


@pytest.mark.parametrize("bad", ["nonsense", "simcse'; import os", "SIMCSE", "../simcse", ""])
def test_unknown_id(bad):
    with pytest.raises(SembedError) as e: get_paper(bad)
    msg = str(e.value)
    assert "\n" not in msg and f"known ids: {', '.join(paper_ids())}" in msg


def test_reported_row_by_family():
    p = get_paper("simcse")
    assert reported_row(p, "simcse-unsup", "bert-base-uncased")[0] == "unsup-bert-base"
    assert reported_row(p, "simcse-unsup", "minilm-l6")[0] == "unsup-bert-base"
    assert reported_row(p, "simcse-sup", "roberta-base")[0] == "sup-roberta-base"
