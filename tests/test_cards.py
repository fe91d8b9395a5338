"""Model cards (sembed.cards, `sembed card`): every number states its scale and sample, the YAML has a license, a language
and hub dataset ids, the usage snippet names the real folder, the paper is cited, and a committed full-scale result
is the headline. Tiny fake results; no pipeline, no model."""
import json
from pathlib import Path
import pytest
from huggingface_hub import ModelCard
from conftest import ROOT, run_sembed, error_lines
from sembed.cards import MTEB_DATASETS, SENTEVAL_DATASET, TEST_PAIRS, bibtex, write_cards
from sembed.registry import get_paper, load_registry

EXP = "simcse-unsup"
ALLOWED_TYPES = {"mteb/sts12-sts", "mteb/sts13-sts", "mteb/sts14-sts", "mteb/sts15-sts", "mteb/sts16-sts",
                 "mteb/stsbenchmark-sts", "mteb/sickr-sts", "princeton-nlp/datasets-for-simcse"}


def _result(scale="smoke", **tasks):
    "A result as `sembed.experiments.evaluate` writes it: {task: (spearman, n)}; smoke scored a 500-pair sample."
    r = {"experiment": EXP, "paper": "simcse", "method": "simcse-unsup", "kind": "train", "scale": scale, "protocol": "senteval",
         "model": "minilm-l6", "pooler": "cls_before_pooler", "split": "test",
         "tasks": {t: {"spearman": s, "pearson": s, "n": n} for t, (s, n) in tasks.items()},
         "avg": sum(s for s, _ in tasks.values()) / len(tasks),
         "provenance": {"git_commit": f"commit-{scale}", "seed": 42, "device": "cpu", "scale": scale}}
    if scale == "smoke": r["max_pairs"] = 500
    return r


TRANSFER = {"experiment": EXP, "scale": "smoke", "protocol": "transfer", "max_train": 2000, "avg": 75.0,
            "tasks": {"MR": {"acc": 80.0, "n": 2000, "ntrain": 2000, "ntrain_all": 10662, "max_train": 2000, "kfold": 10},
                      "MRPC": {"acc": 70.0, "f1": 80.0, "n": 1725, "ntrain": 2000, "ntrain_all": 4076, "max_train": 2000, "kfold": 10}},
            "provenance": {"git_commit": "commit-transfer", "seed": 1111, "max_train": 2000}}


def _folder(tmp_path, base="minilm-l6", st=True):
    m = tmp_path / "models" / EXP
    (m / "st" if st else m).mkdir(parents=True)
    (m / "sembed.json").write_text(json.dumps({"pooler": "cls_before_pooler", "base_model": base, "method": "simcse-unsup", "max_length": 32}))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{EXP}.json").write_text(json.dumps(_result(**{"STS-B": (75.5, 500), "SICK-R": (70.25, 501)})))
    (tmp_path / "results" / f"{EXP}.transfer.json").write_text(json.dumps(TRANSFER))
    return m


def _cards(tmp_path, **kw):
    m = _folder(tmp_path, **{k: kw.pop(k) for k in ("base",) if k in kw})
    r = tmp_path / "results"
    write_cards(m, r / f"{EXP}.json", r / f"{EXP}.transfer.json", **kw)
    return ModelCard.load(m / "README.md"), ModelCard.load(m / "st" / "README.md")


def test_card_states_the_sample_of_every_number(tmp_path):
    "Each STS metric of the model-index names its sample (n of the test set's N pairs, seed) and scale; the body table has n."
    hf, st = _cards(tmp_path)
    for card in (hf, st):
        sts = {e.dataset_name: e for e in card.data.eval_results if e.metric_type == "spearman_cosine"}
        assert set(sts) == {"STS-B", "SICK-R"}
        assert sts["STS-B"].metric_name.startswith("Spearman (cosine) ×100 on a seeded sample of 500 of 1,379 pairs, seed 42")
        assert "scale smoke, a pipeline check, not a replication" in sts["STS-B"].metric_name
        assert "SentEval protocol" in sts["STS-B"].metric_name and "SentEval protocol" in sts["STS-B"].metric_args["protocol"]
        assert "501 of 4,927 pairs" in sts["SICK-R"].metric_name   # SentEval's SICK-R test set, not MTEB's 9,927
        assert {k: sts["STS-B"].metric_args[k] for k in ("scale", "n", "pairs_in_test_set", "max_pairs", "sample_seed")} == \
            {"scale": "smoke", "n": 500, "pairs_in_test_set": 1379, "max_pairs": 500, "sample_seed": 42}
        tr = [e for e in card.data.eval_results if e.metric_args.get("task") == "MR"]
        assert "a stratified sample of 2,000 of 10,662" in tr[0].metric_name and "scale smoke" in tr[0].metric_name
        assert "| task | Spearman ×100 | n | pairs in the test set |" in card.text
        assert "| STS-B | 75.50 | 500 | 1,379 |" in card.text and "| SICK-R | 70.25 | 501 | 4,927 |" in card.text
        assert "Scale smoke, a pipeline check, not a replication: each task on a seeded sample of at most 500 of its pairs (seed 42)" in card.text


def test_card_metadata_license_language_hub_datasets(tmp_path):
    "license (the base model's) and language are set; every dataset.type is a hub id (the MTEB sets, SentEval's hub dataset)."
    hf, st = _cards(tmp_path)
    for card in (hf, st):
        assert card.data.license == "apache-2.0" and card.data.language == "en"
        assert {e.dataset_type for e in card.data.eval_results} <= ALLOWED_TYPES
        assert {e.dataset_name: e.dataset_type for e in card.data.eval_results if e.metric_type == "spearman_cosine"} == \
            {"STS-B": "mteb/stsbenchmark-sts", "SICK-R": "mteb/sickr-sts"}
        assert all(e.dataset_split == "test" and e.dataset_config is None and e.dataset_revision is None for e in card.data.eval_results)
        assert {(e.metric_args["task"], e.metric_type): e.metric_value for e in card.data.eval_results if "task" in e.metric_args} == \
            {("MR", "accuracy"): 80.0, ("MRPC", "accuracy"): 70.0, ("MRPC", "f1"): 80.0}   # each transfer metric names its task
    assert set(MTEB_DATASETS.values()) | {SENTEVAL_DATASET} == ALLOWED_TYPES


def test_card_license_of_other_base_models(tmp_path):
    hf, _ = _cards(tmp_path / "a", base="roberta-base")
    assert hf.data.license == "mit"
    hf, _ = _cards(tmp_path / "b", base="someone/unknown-model")
    assert hf.data.license == "other" and "license of the base model `someone/unknown-model` is not in sembed's table" in hf.text


def test_card_usage_names_the_real_folder(tmp_path):
    hf, st = _cards(tmp_path)
    assert "path/to/this/folder" not in hf.text + st.text
    assert f'SentenceTransformer("models/{EXP}/st")' in st.text
    assert f'SentenceEncoder.from_pretrained("models/{EXP}")' in hf.text


def test_card_cites_the_paper(tmp_path):
    hf, st = _cards(tmp_path)
    for card in (hf, st):
        assert "## Citation" in card.text and "```bibtex\n@misc{simcse," in card.text
        assert "title = {{SimCSE: Simple Contrastive Learning of Sentence Embeddings}}" in card.text
        assert "author = {Tianyu Gao and Xingcheng Yao and Danqi Chen}" in card.text and "eprint = {2104.08821}" in card.text


def test_bibtex_uses_only_registry_fields():
    "Every registry paper's entry: its title, authors, year and venue, its arXiv id or url, and no other field."
    for pid in load_registry():
        p, b = get_paper(pid), bibtex(get_paper(pid))
        fields = {line.split(" = ")[0].strip() for line in b.splitlines()[1:-1]}
        assert fields <= {"title", "author", "year", "howpublished", "eprint", "archiveprefix", "url"}, (pid, fields)
        assert p["title"].replace("&", "\\&") in b and str(p["year"]) in b and b.count("{") == b.count("}"), pid


def test_card_headlines_a_committed_full_result(tmp_path):
    "A result under measured/full/results/<id>.json is the model-index; the folder's smoke numbers stay as the pipeline check."
    full = tmp_path / "measured" / "full" / "results"
    full.mkdir(parents=True)
    (full / f"{EXP}.json").write_text(json.dumps(_result("full", **{"STS-B": (77.75, 1379), "SICK-R": (72.5, 4927)})))
    hf, st = _cards(tmp_path, full_path=full / f"{EXP}.json", full_transfer_path=full / f"{EXP}.transfer.json")
    for card in (hf, st):
        sts = {e.dataset_name: e for e in card.data.eval_results if e.metric_type == "spearman_cosine"}
        assert {t: e.metric_value for t, e in sts.items()} == {"STS-B": 77.75, "SICK-R": 72.5}
        assert sts["STS-B"].metric_name.startswith("Spearman (cosine) ×100 on all 1,379 pairs (SentEval protocol; scale full")
        assert sts["STS-B"].metric_args["scale"] == "full" and "max_pairs" not in sts["STS-B"].metric_args
        t = card.text
        assert t.index("## STS at scale `full`") < t.index("## STS at scale `smoke` (these weights; the pipeline check)")
        assert "| STS-B | 77.75 | 1,379 | 1,379 |" in t and "| STS-B | 75.50 | 500 | 1,379 |" in t and "commit-full" in t


def test_card_cli_reads_measured(tmp_path):
    "`sembed card --measured` finds <measured>/full/results/<id>.json; a file there of another scale is a one-line error."
    _folder(tmp_path)
    full = tmp_path / "measured" / "full" / "results"
    full.mkdir(parents=True)
    (full / f"{EXP}.json").write_text(json.dumps(_result("full", **{"STS-B": (77.75, 1379)})))
    args = ["card", "--experiment", EXP, "--params", ROOT / "params.yaml", "--models", tmp_path / "models",
            "--results", tmp_path / "results", "--measured", tmp_path / "measured"]
    p = run_sembed(*args, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    card = ModelCard.load(tmp_path / "models" / EXP / "st" / "README.md")
    assert [(e.dataset_name, e.metric_value) for e in card.data.eval_results if e.metric_type == "spearman_cosine"] == [("STS-B", 77.75)]
    (full / f"{EXP}.json").write_text(json.dumps(_result("smoke", **{"STS-B": (1.0, 500)})))
    p = run_sembed(*args, cwd=tmp_path)
    assert p.returncode != 0 and len(error_lines(p)) == 1, p.stderr
    assert f"{EXP}.json: field scale: 'smoke'" in error_lines(p)[0]


def test_test_pairs_match_the_data():
    "TEST_PAIRS: the MTEB sets' rows of the committed manifest; SentEval's counts as the committed full results scored them."
    manifest = json.loads((ROOT / "sembed" / "resources" / "data_manifest.json").read_text())["mteb"]
    assert {t: manifest[h.removeprefix("mteb/")]["rows"] for t, h in MTEB_DATASETS.items()} == TEST_PAIRS["mteb"]
    fulls = [json.loads(f.read_text()) for f in sorted((ROOT / "measured" / "full" / "results").glob("*.json")) if not f.name.endswith(".train.json")]
    senteval = [r for r in fulls if r.get("protocol") == "senteval" and len(r["tasks"]) == 7]
    if not senteval: pytest.skip("no committed full SentEval result")
    assert {t: v["n"] for t, v in senteval[0]["tasks"].items()} == TEST_PAIRS["senteval"]
