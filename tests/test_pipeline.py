"""The DVC pipeline end to end (slow): `dvc repro` is complete and idempotent, metrics are tracked,
and the smoke training is deterministic. In CI `install.sh` has already run `dvc repro`, so the
first call here only confirms; on a developer machine it brings the pipeline up to date."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, MIRROR, run_sembed
from _tol import assert_close_rel

DVC = str(Path(sys.executable).parent / "dvc")
ENV = {**os.environ, "SEMBED_MIRROR": str(MIRROR), "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}


def dvc(*args):
    return subprocess.run([DVC, *args], cwd=ROOT, capture_output=True, text=True, env=ENV)


@pytest.fixture(scope="module")
def repro():
    p = dvc("repro")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


@pytest.mark.slow
def test_second_repro_runs_nothing(repro):
    p = dvc("repro")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Running stage" not in p.stdout, p.stdout[-3000:]
    s = dvc("status")
    assert "up to date" in s.stdout.lower(), s.stdout


@pytest.mark.slow
def test_metrics_show_lists_results(repro):
    p = dvc("metrics", "show", "--json")
    assert p.returncode == 0, p.stderr
    files = {f for ws in json.loads(p.stdout).values() for f in ws.get("data", {})}
    from sembed.core import load_params
    ids = list(load_params(ROOT / "params.yaml")["experiments"])
    assert {"minilm-avg-mteb", "minilm-avg", "simcse-base-cls-before-pooler", "simcse-base-cls", "simcse-unsup", "simcse-sup"} <= set(ids)
    for i in ids:
        for f in [f"results/{i}.json", f"results/{i}.train.json"]:
            assert f in files, (f, sorted(files))
        res = json.loads((ROOT / f"results/{i}.json").read_text())
        assert res["experiment"] == i and res["scale"] == "smoke" and res["provenance"]["scale"] == "smoke"


def _strip(res):
    return {k: v for k, v in res.items() if k not in ("provenance", "model", "settings")}


@pytest.mark.slow
def test_smoke_training_is_deterministic(repro, tmp_path):
    """Same params and seed on CPU -> identical training log, identical summary and byte-identical model folder
    (weights, config, tokenizer, sentence-transformers layout). Identical weights give identical metrics: scoring a
    fixed model is deterministic (test_encoders' determinism test; the STS scores are a function of the embeddings),
    so the metrics JSON is not recomputed here."""
    logs = tmp_path / "logs"
    out = tmp_path / "models" / "simcse-unsup"
    p = run_sembed("train", "--experiment", "simcse-unsup", "--params", "params.yaml", "--data", "data",  # the build half of row@simcse-unsup
                   "--out", out, "--results", logs, "--no-resume", cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    ref = ROOT / "results"
    for f in ["simcse-unsup.train_loss.csv", "simcse-unsup.dev.csv"]:
        assert (logs / f).read_text() == (ref / f).read_text(), f
    assert _strip(json.loads((logs / "simcse-unsup.train.json").read_text())) == _strip(json.loads((ref / "simcse-unsup.train.json").read_text()))
    pipe = ROOT / "models" / "simcse-unsup"
    files = lambda d: sorted(str(f.relative_to(d)) for f in d.rglob("*") if f.is_file() and f.name != "README.md")  # cards: the cards stage
    assert files(out) == files(pipe) and "model.safetensors" in files(out) and "st/model.safetensors" in files(out), (files(out), files(pipe))
    for f in files(out):
        assert (out / f).read_bytes() == (pipe / f).read_bytes(), f"{f} differs from the pipeline's models/simcse-unsup/{f}"


@pytest.mark.slow
def test_trained_models_export_to_sentence_transformers(repro):
    "The pipeline's trained models load in sentence-transformers and encode like sembed (max abs diff <= 1e-5)."
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from sembed.data import load_sts
    from sembed.encoders import SentenceEncoder
    s1, s2, _ = load_sts("STS-B", split="dev", root=ROOT / "data")["dev"]
    sents = (s1 + s2)[:200]
    for name, pooler in [("simcse-unsup", "cls_before_pooler"), ("simcse-sup", "cls")]:
        d = ROOT / "models" / name
        meta = json.loads((d / "sembed.json").read_text())
        assert meta["pooler"] == pooler and meta["max_length"] == 256, meta  # test time: not the 32 tokens of training
        ours = SentenceEncoder.from_pretrained(d).encode(sents, progress=False)
        theirs = SentenceTransformer(str(d / "st"), device="cpu").encode(sents, convert_to_numpy=True)
        assert_close_rel(ours, theirs, rel=1e-5, floor=1.0, what=f"{name}: sembed vs sentence-transformers")


@pytest.mark.slow
def test_real_report(repro, tmp_path):
    "`invoke report --paper simcse` on the smoke pipeline's outputs: table, provenance, banner, >= 3 plots, clean render."
    from bs4 import BeautifulSoup
    inv = str(Path(sys.executable).parent / "invoke")
    p = subprocess.run([inv, "report", "--paper", "simcse"], cwd=ROOT, capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, p.stderr[-3000:]
    html = ROOT / "reports/simcse.html"
    assert (ROOT / "reports/simcse.ipynb").exists()
    soup = BeautifulSoup(html.read_text(), "html.parser")
    text = soup.get_text(" ")
    assert "smoke run — not a replication" in text
    for field in ["scale", "base model", "training data", "seed", "hardware", "git commit", "dvc.lock sha256"]:
        assert field in text, field
    table = soup.select_one("table.comparison").get_text(" ")
    for row in ["paper (Table 5, bert-base-uncased)", "reproduced (minilm-l6, smoke)", "Before training"]:
        assert row in table, row
    unsup = json.loads((ROOT / "results/simcse-unsup.json").read_text())
    assert f"{unsup['avg']:.2f}" in table  # the reproduced number shown is the pipeline's
    geo = json.loads((ROOT / "results/simcse-base-cls-before-pooler.json").read_text())["geometry"]
    assert f"{geo['alignment']:.4f}" in text and f"{geo['uniformity']:.4f}" in text
    imgs = [i for i in soup.find_all("img") if i.get("src", "").startswith("data:image/png;base64,")]
    assert len(imgs) >= 4   # task bars, transfer bars, training curves, geometry
    transfer = soup.select_one("table.transfer").get_text(" ")
    for row in ["paper (Table E.1, bert-base-uncased)", "reproduced (minilm-l6, smoke)"]:
        assert row in transfer, row
    tr = json.loads((ROOT / "results/simcse-sup.transfer.json").read_text())
    assert f"{tr['avg']:.2f}" in transfer and "89.25" in transfer  # ours from the pipeline, the paper's sup-SimCSE CR
    from sembed.core import load_params
    cap = load_params(ROOT / "params.yaml")["transfer"]["max_train"]["smoke"]
    assert f"stratified sample of at most {cap:,}" in soup.select_one(".transfer-note").get_text()   # the smoke cap, said
    from test_report import CHROMIUM, _chromium
    if CHROMIUM is None: pytest.skip("chromium not installed (apt-get install -y chromium)")
    assert _chromium(html.as_uri(), tmp_path / "simcse.png", tmp_path / "u") == []


def _transfer_rows():
    from sembed.core import load_params
    return load_params(ROOT / "params.yaml")["transfer"]["experiments"]

TRANSFER_ROWS = _transfer_rows()   # the MiniLM baseline, a trained SimCSE row, a whitened row (params.yaml transfer.experiments)


@pytest.mark.slow
def test_transfer_results(repro):
    "transfer@<id> wrote the STS-schema JSON for every listed row; dvc tracks it as a metric."
    from sembed.transfer import TRANSFER_TASKS
    p = dvc("metrics", "show", "--json")
    files = {f for ws in json.loads(p.stdout).values() for f in ws.get("data", {})}
    for i in TRANSFER_ROWS:
        assert f"results/{i}.transfer.json" in files
        res = json.loads((ROOT / f"results/{i}.transfer.json").read_text())
        sts = json.loads((ROOT / f"results/{i}.json").read_text())
        assert res["protocol"] == "transfer" and res["experiment"] == i and res["scale"] == "smoke"
        extra = {"geometry", "isotropy", "sweep", "max_pairs"}   # measurements (and the pair sample) of the STS evaluation only
        assert {k for k in sts if k not in extra} <= set(res) | extra   # the STS schema, protocol transfer
        assert list(res["tasks"]) == TRANSFER_TASKS
        accs = [res["tasks"][t]["acc"] for t in TRANSFER_TASKS]
        assert all(50 < a <= 100 for a in accs), accs     # every task well above chance for a trained sentence encoder
        assert abs(res["avg"] - sum(accs) / len(accs)) < 1e-6 and 0 < res["tasks"]["MRPC"]["f1"] <= 100
        assert json.loads((ROOT / f"results/runs/{i}.transfer.json").read_text())["git_commit"] and res["provenance"]["seed"] == 1111
        from sembed.core import load_params
        cap = load_params(ROOT / "params.yaml")["transfer"]["max_train"]["smoke"]   # smoke samples the training sets
        assert res["provenance"]["max_train"] == cap and all(v["ntrain"] <= cap for v in res["tasks"].values())
        assert res["tasks"]["SST2"]["ntrain_all"] == 67349 and res["tasks"]["SST2"]["n"] == 1821   # test sets whole


@pytest.mark.slow
def test_model_cards_parse_and_match_results(repro):
    "Every trained model folder (HF and sentence-transformers layouts) has a model card whose metadata equals the results."
    from huggingface_hub import ModelCard
    from sembed.core import load_params
    from sembed.experiments import experiments
    from sembed.encoders import MODELS
    exps = experiments(load_params(ROOT / "params.yaml"))
    trained = [k for k, e in exps.items() if e.kind == "train"]
    assert {"simcse-unsup", "simcse-sup"} <= set(trained)
    for i in trained:
        sts = json.loads((ROOT / f"results/{i}.json").read_text())
        tf = ROOT / f"results/{i}.transfer.json"
        tr = json.loads(tf.read_text()) if tf.exists() else None
        full, ftf = ROOT / f"measured/full/results/{i}.json", ROOT / f"measured/full/results/{i}.transfer.json"   # the headline, if measured
        head = json.loads(full.read_text()) if full.exists() else sts
        if full.exists() and ftf.exists(): tr = json.loads(ftf.read_text())
        want = {(t, "spearman_cosine"): round(v["spearman"], 2) for t, v in head["tasks"].items()}
        if tr: want.update({(t, "accuracy"): round(v["acc"], 2) for t, v in tr["tasks"].items()} | {("MRPC", "f1"): round(tr["tasks"]["MRPC"]["f1"], 2)})
        own = json.loads((ROOT / "models" / i / "sembed.json").read_text()).get("test_embed")   # a method's own test-time vectors:
        assert (ROOT / "models" / i / "st").is_dir() == (own is None), i                     # no sentence-transformers copy
        for folder, lib in [(ROOT / "models" / i, "transformers"), (ROOT / "models" / i / "st", "sentence-transformers")][:1 if own else 2]:
            card = ModelCard.load(folder / "README.md")
            assert card.data.library_name == lib and card.data.base_model == MODELS[exps[i].model]["hub"], (i, card.data.base_model)
            got = {((e.metric_args or {}).get("task", e.dataset_name), e.metric_type): e.metric_value for e in card.data.eval_results}
            assert got == want, (i, lib)
            assert "not a replication" in card.text and json.loads((ROOT / f"results/runs/{i}.json").read_text())["git_commit"] in card.text
            assert card.data.license and card.data.language == "en" and "path/to/this/folder" not in card.text
            for e in card.data.eval_results:   # every task of the matrix has more pairs than a smoke sample: each STS number says its sample
                if e.metric_type == "spearman_cosine": assert ("on a seeded sample of" in e.metric_name) == bool(head.get("max_pairs")), e.metric_name
    # training-free rows have no trained folder and no card
    assert not (ROOT / "models/minilm-avg/README.md").exists()


@pytest.mark.slow
def test_leaderboard_has_transfer_columns(repro):
    import csv
    from sembed.registry import TRANSFER_COLUMNS
    rows = {r["experiment"]: r for r in csv.DictReader(open(ROOT / "reports/leaderboard.csv")) if r["scale"] == "smoke"}   # the pipeline's own rows
    for i in TRANSFER_ROWS:
        tr = json.loads((ROOT / f"results/{i}.transfer.json").read_text())
        assert [float(rows[i][t]) for t in TRANSFER_COLUMNS] == [round(tr["tasks"][t]["acc"], 2) for t in TRANSFER_COLUMNS]
    assert rows["simcse-sup"]["paper_transfer_avg"] == "86.51"
    assert rows["simcse-base-cls"]["MR"] == ""   # not evaluated on the transfer tasks


@pytest.mark.slow
def test_training_free_reports_show_sweeps_claims_and_isotropy(repro):
    "The whitening-variants and redundancy reports, as `dvc repro` rendered them: one sweep table per row with the "
    "pipeline's numbers, the claims with computed verdicts, each model's isotropy; the five whitenings score alike."
    from bs4 import BeautifulSoup
    from sembed.core import load_params
    exps = load_params(ROOT / "params.yaml")["experiments"]
    for paper in ("whitening-not-recommended", "embedding-redundancy"):
        rows = [k for k, v in exps.items() if v.get("paper") == paper and v.get("sweep")]
        assert len(rows) >= 2
        soup = BeautifulSoup((ROOT / f"reports/{paper}.html").read_text(), "html.parser")
        tables = soup.select("table.sweep")
        assert len(tables) == len(rows), paper
        for rid, t in zip(rows, tables):
            sw = json.loads((ROOT / f"results/{rid}.json").read_text())["sweep"]
            text = t.get_text(" ")
            assert all(f"{x['avg']:.2f}" in text for x in sw["rows"]), rid
        verdicts = [p.get_text(" ") for p in soup.find_all("p") if "Verdict on our rows" in p.get_text()]
        assert verdicts and all("holds on" in v or "not measured" in v for v in verdicts), verdicts
        assert soup.select("table.claims")
        if paper == "whitening-not-recommended":
            for rid in rows:
                avgs = [x["avg"] for x in json.loads((ROOT / f"results/{rid}.json").read_text())["sweep"]["rows"]]
                assert len(avgs) == 5 and max(avgs) - min(avgs) <= 1e-3 * max(1.0, abs(avgs[0])), (rid, avgs)   # one whitening up to a rotation
        else:
            iso = soup.select_one("table.isotropy").get_text(" ")
            for b in ("minilm-avg", "smollm2-last-token"):
                assert f"{json.loads((ROOT / f'results/{b}.json').read_text())['isotropy']['isoscore']:.4f}" in iso, b


def _paper_report(paper, exps):
    "The params rows of `paper` and its rendered report (BeautifulSoup, page text), as `dvc repro` wrote it."
    from bs4 import BeautifulSoup
    rows = [k for k, v in exps.items() if v.get("paper") == paper]
    soup = BeautifulSoup((ROOT / f"reports/{paper}.html").read_text(), "html.parser")
    return rows, soup, soup.get_text(" ")


@pytest.mark.slow
def test_prompting_reports_show_rows_selections_and_claims(repro):
    "The five LLM prompting reports, as `dvc repro` rendered them: every SmolLM2 row's STS-B test score, the claims with "
    "computed verdicts; the Contrastive Prompting / Token Prepending rows chose their settings on a STS-B dev sample (best finite score)."
    import math
    from sembed.core import load_params
    from sembed.experiments import experiment
    params = load_params(ROOT / "params.yaml"); exps = params["experiments"]
    for paper in ("prompteol", "pretended-cot", "metaeol", "contrastive-prompting", "token-prepending"):
        rows, soup, text = _paper_report(paper, exps)
        assert rows, paper
        for rid in rows:
            r = json.loads((ROOT / f"results/{rid}.json").read_text())
            want = experiment(params, rid, "smoke").pairs   # smoke: a seeded sample of STS-B test's pairs
            assert r["model"] == "smollm2-135m" and list(r["tasks"]) == ["STS-B"] and r["tasks"]["STS-B"]["n"] == want, rid
            assert r["max_pairs"] == want and want < 1379, rid
            assert f"{r['tasks']['STS-B']['spearman']:.2f}" in text, rid
            summary = json.loads((ROOT / f"results/{rid}.train.json").read_text())
            if exps[rid]["method"] in ("contrastive-prompting", "token-prepending"):
                sel = summary["selection"]
                assert sel["on"].startswith("STS-B dev") and sel["pairs"] == 200, rid
                best = max((g for g in sel["grid"] if math.isfinite(g["spearman"])), key=lambda g: g["spearman"])
                assert best["chosen"] and all(sel["choice"][k] == best[k] for k in sel["choice"]), rid
        verdicts = [p.get_text(" ") for p in soup.find_all("p") if "Verdict on our rows" in p.get_text()]
        assert verdicts and all("holds on" in v for v in verdicts), (paper, verdicts)


@pytest.mark.slow
def test_measured_full_rows_in_reports_and_leaderboard(repro):
    "Every row measured once at scale full (measured/full/results/, committed) shows in its paper's report, as its file "
    "records it (7 tasks, every pair, avg), marked stale exactly when `invoke measure --stale` would re-run it, and the leaderboard lists it at scale full."
    import csv
    from sembed.core import load_params
    exps = load_params(ROOT / "params.yaml")["experiments"]
    files = sorted((ROOT / "measured/full/results").glob("*.json"))
    results = [f for f in files if not f.name.endswith(".train.json")]
    assert results, "measured/full/results/ holds no result"
    lb = [r for r in csv.DictReader(open(ROOT / "reports/leaderboard.csv")) if r["scale"] == "full"]
    from sembed.measure import measure_plan
    status = {x["id"]: x["status"] for x in measure_plan(ROOT, "full")}
    for f in results:
        r = json.loads(f.read_text())
        rid = r["experiment"]
        assert f.name == f"{rid}.json" and r["scale"] == "full" and rid in exps, f
        assert list(r["tasks"]) == ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R"] and r.get("max_pairs") is None, rid
        assert any(row["experiment"] == rid and abs(float(row["avg"]) - round(r["avg"], 2)) < 1e-9 for row in lb), rid
        assert any(row["experiment"] == rid and row["status"] == ("stale" if status[rid] == "stale" else "") for row in lb), rid
        if not exps[rid].get("paper"): continue   # a plain baseline (e.g. SmolLM2's last token): no report of its own
        _, soup, text = _paper_report(exps[rid]["paper"], exps)
        table = soup.select_one("table.measured")
        assert table is not None and rid in table.get_text(" ") and f"{r['avg']:.2f}" in table.get_text(" "), rid
        warned = [li.get_text() for li in soup.select("ul.stale li") if li.get_text().strip().startswith(f"stale: {rid}:")]
        assert bool(warned) == (status[rid] == "stale"), (rid, status[rid], warned)


@pytest.mark.slow
def test_training_paper_reports_show_smoke_rows_curves_and_geometry(repro):
    "The SBERT / CoSENT / AnglE / ESimCSE / ConSERT / 2DMSE / Pcc-tuning / PromptBERT reports, as `dvc repro` rendered them: the smoke "
    "banner, every trained row and its before-training row (average, training curves, alignment / uniformity on STS-B test)."
    from sembed.core import load_params
    from sembed.methods import get_method, load_plugins
    from sembed.experiments import experiment
    load_plugins()
    params = load_params(ROOT / "params.yaml"); exps = params["experiments"]
    expected = {"pcc-tuning": 2, "promptbert": 1}   # trained rows per report (Pcc-tuning: MiniLM and SmolLM2 + LoRA)
    for paper in ("sbert", "cosent", "angle", "esimcse", "consert", "2dmse", "pcc-tuning", "promptbert"):
        rows, soup, text = _paper_report(paper, exps)
        trained = [k for k in rows if get_method(exps[k]["method"]).kind == "train"]
        assert len(trained) == expected.get(paper, 1), (paper, rows)
        shared = [exps[t]["baseline"] for t in trained if exps[exps[t]["baseline"]].get("paper") is None]   # shown in the report too
        if paper not in expected: assert len(rows) + len(shared) == 2, (paper, rows)
        assert "smoke run — not a replication" in text, paper
        assert "Training loss" in text or soup.find(string=lambda s: s and "Training" in s), paper
        for t in trained:
            b = exps[t]["baseline"]   # the paper's own before-training row, or one several papers share (no paper: shown in each report)
            assert b in rows or exps[b].get("paper") is None, t
            for rid in (t, b):
                r, e = json.loads((ROOT / f"results/{rid}.json").read_text()), experiment(params, rid, "smoke")
                assert len(r["tasks"]) == (len(e.tasks) if e.tasks else 7) and r["model"] == e.model, rid
                assert f"{r['avg']:.2f}" in text, rid
                assert r["geometry"]["split"] == "test" and f"{r['geometry']['alignment']:.4f}" in text, rid
            loss = (ROOT / f"results/{t}.train_loss.csv").read_text().splitlines()
            assert loss[0] == "step,loss,lr" and len(loss) >= 2, t


@pytest.mark.slow
def test_2dmse_grid_and_pcc_note_in_their_reports(repro):
    "2DMSE: both rows' layer x prefix grids (6 layers x 7 prefixes) in the result and the report; Pcc-tuning: the in-domain note."
    from sembed.core import load_params
    exps = load_params(ROOT / "params.yaml")["experiments"]
    rows, soup, text = _paper_report("2dmse", exps)
    for rid in rows:
        g = json.loads((ROOT / f"results/{rid}.json").read_text())["layer_grid"]
        assert g["layers"] == [1, 2, 3, 4, 5, 6] and g["dims"] == [384, 256, 128, 64, 32, 16, 8] and g["task"] == "STS-B"
        full = json.loads((ROOT / f"results/{rid}.json").read_text())["tasks"]["STS-B"]["spearman"]
        assert abs(g["spearman"][-1][0] - full) < 1e-3 * max(1.0, abs(full)), rid   # last layer, every dimension = the row's own STS-B
    assert len(soup.select("table.layer-grid")) == 2 and "Layer × dimension grid" in text
    rows, soup, text = _paper_report("pcc-tuning", exps)
    assert "In-domain labels" in soup.select_one(".report-note").get_text()
