"""Replication report and leaderboard rendered from a SYNTHETIC results tree (numbers generated here by
`sembed.report.synthetic_results` in the pipeline's layout: params.yaml experiments + results/<id>.*; never
committed as results): comparison table, provenance, smoke banner and note, what differs from the paper,
embedded plots, offline HTML, a headless-browser render without console errors, bad ids refused, no retraining."""
import copy, hashlib, json, os, re, shutil, subprocess, sys
from pathlib import Path
import pytest
import yaml
from bs4 import BeautifulSoup
from sembed.core import SembedError, load_params
from sembed.registry import STS_COLUMNS, paper_ids
from sembed.report import (LEADERBOARD_COLUMNS, SMOKE_BANNER, SYNTHETIC_NOTE, differences, plot_task_bars, render_leaderboard,
                           render_report, report_data, synthetic_results)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TEMPLATE = ROOT / "reports/templates/paper.ipynb"
PAPER_ROWS = ["simcse-base-cls-before-pooler", "simcse-base-cls", "simcse-unsup", "simcse-sup"]


def tree_hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file() and "reports" not in p.parts}


def repo_params():
    return load_params(ROOT / "params.yaml")


def with_lr(params, exp_id, base, lr):
    "Copy of `params` with the paper-scale learning rate of `exp_id` (alternative `base`) set to `lr`."
    p = copy.deepcopy(params)
    p["experiments"][exp_id]["scales"]["paper"][base]["learning_rate"] = lr
    return p


def with_base(params, base):
    p = copy.deepcopy(params)
    for spec in p["experiments"].values():
        if "base" in (spec.get("scales") or {}).get("paper", {}): spec["scales"]["paper"]["base"] = base
    return p


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    "A synthetic smoke-scale results tree and its rendered report + leaderboard."
    params = repo_params()   # both SimCSE rows on the transfer tasks (the CI list keeps one; a full run lists both)
    params["transfer"]["experiments"] = list(dict.fromkeys([*params["transfer"]["experiments"], "simcse-unsup", "simcse-sup"]))
    root = synthetic_results(tmp_path_factory.mktemp("fixture"), scale="smoke", params=params)
    before = tree_hashes(root)
    html_path = render_report("simcse", root=root, template=TEMPLATE)
    lb = render_leaderboard(root)
    return root, before, html_path, lb


def test_synthetic_tree_layout(rendered):
    "The fixture has the pipeline's layout and says everywhere that it is synthetic."
    root, *_ = rendered
    params = load_params(root / "params.yaml")
    assert (root / "params.yaml").read_text().startswith(f"# {SYNTHETIC_NOTE}")
    assert params["scale"] == "smoke" and params["papers"] == ["simcse"]
    ours = {k: v for k, v in repo_params()["experiments"].items() if v.get("paper") in ("simcse", None)}
    assert params["experiments"] == ours   # a copy of the repository's experiments
    for eid in ours:
        res = json.loads((root / f"results/{eid}.json").read_text())
        assert res["synthetic"] is True and res["provenance"]["note"] == SYNTHETIC_NOTE and res["experiment"] == eid
        for f in ("train_loss.csv", "dev.csv", "train.json"): assert (root / f"results/{eid}.{f}").exists(), (eid, f)
        assert ("geometry" in res) == bool(ours[eid].get("geometry")), eid
    assert (root / "results/simcse-base-cls.train_loss.csv").read_text() == "step,loss,lr\n"   # training-free: header only
    assert "SYNTHETIC" in (root / "dvc.lock").read_text()


def test_outputs_written(rendered):
    root, _, html_path, lb = rendered
    assert html_path == root / "reports/simcse.html"
    assert (root / "reports/simcse.ipynb").exists() and (root / "reports/leaderboard.csv").exists() and lb.exists()
    assert not [p for p in (root / "reports").iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_report_content(rendered):
    root, _, html_path, _ = rendered
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    text = soup.get_text(" ")
    assert "Replication report: SimCSE" in text and "Tianyu Gao, Xingcheng Yao, Danqi Chen" in text
    # smoke banner + what smoke numbers are + provenance header
    assert soup.find(class_="smoke-banner") and SMOKE_BANNER in soup.find(class_="smoke-banner").get_text()
    note = soup.find(class_="smoke-note").get_text(" ")
    assert "pipeline check" in note and "already trained" in note and "not a replication" in note
    prov = {th.get_text(strip=True): td.get_text(strip=True) for tr in soup.select("table.provenance tr")
            for th, td in [(tr.find("th"), tr.find("td"))]}
    for field in ("paper", "scale", "base model", "training data", "seed", "hardware", "git commit", "dvc.lock sha256",
                  "evaluator", "rendered"):
        assert prov.get(field), field
    assert prov["scale"].startswith("smoke") and SMOKE_BANNER in prov["scale"]
    assert prov["base model"] == "minilm-l6" and "simcse-unsup: snli-devtest-sentences" in prov["training data"]
    assert re.fullmatch(r"[0-9a-f]{64}", prov["dvc.lock sha256"]) and prov["git commit"] == "0" * 40
    assert "SYNTHETIC" in prov["notes"]
    # reported vs reproduced table with the SimCSE rows (paper numbers from Table 5) and the before-training rows
    table = soup.select_one("table.comparison")
    assert table is not None
    ttext = table.get_text(" ")
    for s in ("Unsupervised SimCSE", "Supervised SimCSE", "paper (Table 5, bert-base-uncased)", "reproduced (minilm-l6, smoke)",
              "Δ reproduced − paper", "before training", "Before training: [CLS] without MLP", "76.25", "81.57", "68.40", "84.25"):
        assert s in ttext, s
    for eid in ("simcse-unsup", "simcse-sup", "simcse-base-cls"):
        res = json.loads((root / f"results/{eid}.json").read_text())
        assert f"{res['avg']:.2f}" in ttext, eid   # the reproduced number shown is the result file's
    # every reproduced row carries its provenance
    rp = soup.select_one("table.row-provenance")
    body = [[c.get_text(strip=True) for c in tr.find_all(["th", "td"])] for tr in rp.select("tbody tr")]
    assert [r[0] for r in body] == PAPER_ROWS
    assert all("cpu:synthetic" in r and "000000000000" in r and f"results/{r[0]}.json" in r for r in body)
    # what differs from the paper
    assert "What differs from the paper" in text
    diffs = [li.get_text(" ", strip=True) for li in soup.select("ul.differences li")]
    assert "simcse-unsup: model = minilm-l6 (paper: bert-base-uncased)" in diffs
    assert "simcse-sup: batch_size = 64 (paper: 512)" in diffs and diffs[0].startswith("scale = smoke")
    # geometry table: the result's own numbers to 4 decimals
    gtext = soup.select_one("table.geometry").get_text(" ")
    for eid in ("simcse-base-cls-before-pooler", "simcse-unsup", "simcse-sup"):
        g = json.loads((root / f"results/{eid}.json").read_text())["geometry"]
        assert f"{g['alignment']:.4f}" in gtext and f"{g['uniformity']:.4f}" in gtext, eid
    # >= 4 plots embedded as base64 PNG (task bars, transfer bars, training, geometry), and no code cells
    imgs = [i for i in soup.find_all("img") if i.get("src", "").startswith("data:image/png;base64,")]
    assert len(imgs) >= 4
    assert "report_data(" not in text and "stale:" not in text


def test_reported_rows_in_rendered_report(rendered):
    """The rendered report shows every reported row of the paper (RoBERTa included, issue 31) by base model with the kind of
    its source, and the compared rows' source kind beside them and on their Δ row (issue 30)."""
    from sembed.registry import SOURCE_KINDS, get_paper
    _, _, html_path, _ = rendered
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    ttext = soup.select_one("table.comparison").get_text(" ")
    assert "paper (Table 5, bert-base-uncased) — paper's table" in ttext and "Δ reproduced − paper (paper's table)" in ttext
    got = {tuple(c.get_text(strip=True) for c in tr.find_all("th")[:2]): [c.get_text(strip=True) for c in tr.find_all("td")]
           for tr in soup.select("table.reported tbody tr")}
    rows = get_paper("simcse")["reported"]
    assert len(got) == len(rows)
    for rid, row in rows.items():   # base model and row id in the index (a repeated base model is a rowspan: first cell blank)
        cells = next(v for k, v in got.items() if k[-1] == rid or k == (row["base_model"], rid))
        assert cells[0] == SOURCE_KINDS[row["source"]] and f"{row['scores']['avg']:.2f}" in cells, rid
    assert "unsup-roberta-base" in soup.select_one("table.reported").get_text() and not soup.select(".no-reported-row")


def test_every_reported_row_appears_in_its_papers_report():
    """Issue 31: for every paper, the report's table of reported rows (what the template shows, `reported_html`) lists each
    registry row under its base model, with its kind of source (no row of ours here: no Δ); a paper without rows says where
    they were looked for instead. (Rendered through the template: test_reported_rows_in_rendered_report.)"""
    from sembed.registry import SOURCE_KINDS, get_paper, paper_ids
    from sembed.report import reported_html
    for pid in paper_ids():
        p = get_paper(pid)
        soup = BeautifulSoup(reported_html({"paper": copy.deepcopy(p), "experiments": {}}), "html.parser")
        if not p["reported"]:
            assert soup.select_one("p.no-reported-row").get_text() == p["not_found"] and not soup.select("table"), pid
            continue
        table = soup.select_one("table.reported")
        base = None
        for tr in table.select("tbody tr"):
            th = [c.get_text(strip=True) for c in tr.find_all("th")]
            if len(th) == 2: base = th[0]
            rid, td = th[-1], [c.get_text(strip=True) for c in tr.find_all("td")]
            row = p["reported"].pop(rid)
            assert base == row["base_model"] and td[0] == SOURCE_KINDS[row["source"]] and td[-1] == "—", (pid, rid)
        assert not p["reported"], (pid, sorted(p["reported"]))   # every row shown
        if p.get("not_found"): assert soup.select_one("p.reported-caveat").get_text() == p["not_found"]


def test_reported_delta_only_on_the_same_base_model(tmp_path):
    "Paper scale (BERT-base): Δ avg against the BERT-base rows our rows name; none against the RoBERTa rows."
    from sembed.report import reported_table
    d = report_data("simcse", synthetic_results(tmp_path, scale="paper"))
    t = reported_table(d)
    for rid, eid, avg in (("unsup-bert-base", "simcse-unsup", 76.25), ("sup-bert-base", "simcse-sup", 81.57)):
        assert abs(t.loc[("bert-base-uncased", rid), "Δ avg"] - (d["experiments"][eid]["scores"]["avg"] - avg)) < 1e-9
        assert t.loc[("bert-base-uncased", rid), "our row"] == f"{eid} (bert-base-uncased)"
    assert t["Δ avg"].notna().sum() == 2 and t.loc[("roberta-base", "unsup-roberta-base"), "our row"] == "—"


def test_reported_strings_are_escaped():
    from sembed.report import reported_html
    row = {"table": XSS[0], "source": "third-party", "source_ref": XSS[1], "method": XSS[1], "base_model": XSS[0],
           "scores": {"STS-B": 50.0, "avg": 50.0}}
    page = reported_html({"paper": {"tasks": ["STS-B"], "reported": {XSS[1]: row}, "not_found": XSS[0]}, "experiments": {}})
    page += reported_html({"paper": {"tasks": ["STS-B"], "reported": {}, "not_found": XSS[1]}, "experiments": {}})
    assert "<script>" not in page and "<img" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3


def test_html_self_contained(rendered):
    for page in (rendered[2], rendered[3]):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        remote = [t.get(a) for t in soup.find_all(True) for a in ("src", "href")
                  if t.name in ("script", "img", "link", "iframe", "source", "embed") and re.match(r"(https?:)?//", t.get(a) or "")]
        assert not remote, remote
        assert not re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", page.read_text())


def test_leaderboard(rendered):
    root, *_ = rendered
    import pandas as pd
    df = pd.read_csv(root / "reports/leaderboard.csv")
    assert list(df.columns) == LEADERBOARD_COLUMNS
    # one row per experiment with a result: the paper's rows and the plain baselines (paper: null)
    plain = [k for k, v in repo_params()["experiments"].items() if v.get("paper") is None]
    assert plain[:2] == ["minilm-avg-mteb", "minilm-avg"] and list(df["experiment"]) == [*plain, *PAPER_ROWS]
    assert df.loc[df.experiment.isin(plain), "paper"].isna().all()
    assert (df.loc[df.experiment.str.startswith("simcse"), "paper"] == "simcse").all()
    assert (df["scale"] == "smoke").all() and set(df["protocol"]) == {"senteval", "mteb"}
    u = df.set_index("experiment").loc["simcse-unsup"]
    res = json.loads((root / "results/simcse-unsup.json").read_text())
    assert (u["method"], u["kind"], u["base_model"], u["paper_avg"]) == ("simcse-unsup", "train", "minilm-l6", 76.25)
    assert u["avg"] == round(res["avg"], 2) and abs(u["delta_avg"] - (res["avg"] - 76.25)) <= 0.011
    assert df.set_index("experiment").loc["simcse-sup", "paper_avg"] == 81.57
    assert u["paper_source"] == "paper-table" and df.set_index("experiment").loc["simcse-sup", "paper_transfer_source"] == "paper-table"
    assert df.loc[~df.experiment.isin(["simcse-unsup", "simcse-sup"]), "paper_source"].isna().all()
    assert df.loc[~df.experiment.isin(["simcse-unsup", "simcse-sup"]), ["paper_avg", "delta_avg"]].isna().all().all()
    soup = BeautifulSoup((root / "reports/leaderboard.html").read_text(), "html.parser")
    # nothing measured at full here: no headline number; every smoke row in the pipeline check, said to be one
    from sembed.report import COMPACT_COLUMNS
    assert soup.select_one("p.no-headline") and not soup.select("table.headline")
    assert "no replication" in soup.select_one("p.check-note").get_text() and soup.find("script")
    t = soup.select_one("table.pipeline-check")
    heads = [th.get_text(strip=True) for th in t.select("thead th")]
    assert heads == COMPACT_COLUMNS
    rows = [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in t.select("tbody tr")]
    assert len(rows) == len(plain) + 4 and all(r[heads.index("scale")] == "smoke" for r in rows)
    assert "None" not in t.get_text() and "nan" not in t.get_text()
    # every column of every row one click away, as the CSV
    d = soup.select_one("details#all-columns table")
    assert [th.get_text(strip=True) for th in d.select("thead th")] == LEADERBOARD_COLUMNS and len(d.select("tbody tr")) == len(rows)
    assert "None" not in d.get_text() and "nan" not in d.get_text()


def test_transfer_in_report_and_leaderboard(rendered):
    "Rows of params' transfer.experiments: the report's transfer table (paper Table E.1 vs ours, Δ) and the leaderboard's columns."
    root, _, html_path, _ = rendered
    import pandas as pd
    from sembed.registry import TRANSFER_COLUMNS
    params = yaml.safe_load((root / "params.yaml").read_text())
    listed = params["transfer"]["experiments"]
    assert "simcse-unsup" in listed and "simcse-sup" in listed
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    t = soup.select_one("table.transfer").get_text(" ")
    for s in ("paper (Table E.1, bert-base-uncased)", "reproduced (minilm-l6, smoke)", "Δ reproduced − paper", "85.81", "86.51", "89.25"):
        assert s in t, s
    assert "scikit-learn" in soup.get_text(" ") and "PyTorch logistic regression" in soup.get_text(" ")
    df = pd.read_csv(root / "reports/leaderboard.csv").set_index("experiment")
    for eid in df.index:
        f = root / f"results/{eid}.transfer.json"
        if eid in listed:
            tr = json.loads(f.read_text())
            assert f"{tr['avg']:.2f}" in t or eid not in ("simcse-unsup", "simcse-sup")
            assert [df.loc[eid, c] for c in TRANSFER_COLUMNS] == [round(tr["tasks"][c]["acc"], 2) for c in TRANSFER_COLUMNS]
            assert df.loc[eid, "transfer_avg"] == round(tr["avg"], 2)
        else:
            assert not f.exists() and df.loc[eid, TRANSFER_COLUMNS + ["transfer_avg"]].isna().all(), eid
    assert df.loc["simcse-sup", "paper_transfer_avg"] == 86.51 and df.loc["simcse-unsup", "paper_transfer_avg"] == 85.81
    assert abs(df.loc["simcse-sup", "delta_transfer_avg"] - (df.loc["simcse-sup", "transfer_avg"] - 86.51)) <= 0.011


def test_rerender_does_not_retrain(rendered):
    root, before, html_path, _ = rendered
    render_report("simcse", root=root, template=TEMPLATE)
    assert tree_hashes(root) == before, "rendering changed the results tree"
    assert not (root / "models").exists()


@pytest.mark.parametrize("base, exp_id, lr, paper_lr", [("bert", "simcse-unsup", 1e-5, 3e-5),
                                                        ("roberta", "simcse-unsup", 3e-5, 1e-5),
                                                        ("bert", "simcse-sup", 1e-5, 5e-5)])
def test_learning_rate_difference_is_listed(tmp_path, base, exp_id, lr, paper_lr):
    "Paper scale: the params as shipped are the paper's settings (nothing differs); a changed learning rate is listed."
    shipped = with_base(repo_params(), base)
    d = report_data("simcse", synthetic_results(tmp_path / "shipped", scale="paper", params=shipped))
    assert d["is_replication"] and differences(d) == []
    d = report_data("simcse", synthetic_results(tmp_path / "changed", scale="paper", params=with_lr(shipped, exp_id, base, lr)))
    assert differences(d) == [f"{exp_id}: learning_rate = {lr} (paper: {paper_lr})"]


def test_paper_scale_report(tmp_path):
    "Paper scale: no banner, the paper's base model in the reproduced row, and a changed learning rate in the list."
    params = with_lr(repo_params(), "simcse-unsup", "bert", 1e-5)
    root = synthetic_results(tmp_path, scale="paper", params=params)
    soup = BeautifulSoup(render_report("simcse", root=root).read_text(), "html.parser")
    assert soup.find(class_="smoke-banner") is None and soup.find(class_="smoke-note") is None
    ttext = soup.select_one("table.comparison").get_text(" ")
    assert "reproduced (bert-base-uncased, paper)" in ttext and "paper (Table 5, bert-base-uncased)" in ttext
    diffs = [li.get_text(" ", strip=True) for li in soup.select("ul.differences li")]
    assert diffs == ["simcse-unsup: learning_rate = 1e-05 (paper: 3e-05)"]


def test_paper_scale_shipped_params_list_nothing(tmp_path):
    root = synthetic_results(tmp_path, scale="paper")
    soup = BeautifulSoup(render_report("simcse", root=root).read_text(), "html.parser")
    diffs = [li.get_text(" ", strip=True) for li in soup.select("ul.differences li")]
    assert len(diffs) == 1 and diffs[0].startswith("none in the compared settings")
    assert not any("learning_rate" in x for x in diffs)


def test_stale_results_are_flagged(tmp_path):
    "Results produced with other settings than params.yaml now holds are named as stale, not silently relabelled."
    root = synthetic_results(tmp_path, scale="smoke")
    p = load_params(root / "params.yaml")
    p["experiments"]["simcse-unsup"]["scales"]["smoke"]["learning_rate"] = 1e-5
    (root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    d = report_data("simcse", root)
    assert d["stale"] == ["simcse-unsup: built with other settings than params.yaml now holds (learning_rate) (re-run the pipeline)"]
    assert "simcse-unsup: learning_rate = 1e-05 (paper: 3e-05)" in differences(d)


def test_a_shared_before_training_row_shows_in_each_papers_report(tmp_path):
    "SBERT, ConSERT and Pcc-tuning share one plain 'before training' row (`base-avg`): each one's report shows it (its scores, "
    "its alignment / uniformity) and draws its trained row's difference from it under its label."
    from sembed.report import baseline_table, comparison_table, geometry_table
    for paper, trained in (("sbert", "sbert-nli"), ("consert", "consert-unsup"), ("pcc-tuning", "pcc-stsb-sickr")):
        d = report_data(paper, synthetic_results(tmp_path / paper, paper_id=paper))
        assert repo_params()["experiments"]["base-avg"].get("paper") is None and d["experiments"][trained]["baseline"] == "base-avg"
        assert "base-avg" in d["experiments"] and "base-avg" in geometry_table(d).index, paper
        assert any(ix[0] == "before training" and ix[1].startswith("Before training: mean pooling (minilm-l6, smoke)")   # + its sample
                   for ix in comparison_table(d).index), paper
        assert (d["experiments"][trained]["label"], "vs Before training: mean pooling") in baseline_table(d).index, paper


def test_missing_params_refused(tmp_path):
    with pytest.raises(SembedError, match="params.yaml: params file not found"):
        render_report("simcse", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_template_parameters_cell_tagged():
    nb = json.loads(TEMPLATE.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "paper_id" in "".join(tagged[0]["source"])


@pytest.mark.parametrize("bad", ["nonsense", "simcse'; import os"])
def test_bad_id_api(tmp_path, bad):
    with pytest.raises(SembedError, match=f"unknown paper id .*{len(paper_ids())} in all"):
        render_report(bad, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["nonsense", "simcse'; import os"])
def test_bad_id_invoke(tmp_path, bad):
    "`invoke report --paper BAD` exits non-zero, names some known ids, creates no file."
    work = tmp_path / "repo"; shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".git", "reports", "*.egg-info", ".venv", "data", "models", ".cache", ".dvc", "results", ".pytest_cache"))
    before = {p for p in work.rglob("*")}
    inv = Path(sys.executable).parent / "invoke"
    env = {**os.environ, "PYTHONPATH": str(work)}
    p = subprocess.run([str(inv), "report", "--paper", bad], cwd=work, capture_output=True, text=True, env=env)
    assert p.returncode != 0
    assert "unknown paper id" in p.stderr and f"{len(paper_ids())} in all" in p.stderr, p.stderr
    assert {q for q in work.rglob("*") if "__pycache__" not in q.parts} <= before


def _chromium(url, out_png, tmp):
    "Render `url` headless to a PNG; return the browser's console lines."
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp}", "--enable-logging=stderr", "--v=0", f"--screenshot={out_png}",
           "--window-size=1200,3000", url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert Path(out_png).exists() and Path(out_png).stat().st_size > 10_000, p.stderr[-2000:]
    return [l for l in p.stderr.splitlines() if ":CONSOLE" in l]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_browser_render_without_console_errors(rendered, tmp_path):
    root, _, html_path, lb = rendered
    # control: the detector must see an error on a page that has one
    bad = tmp_path / "bad.html"; bad.write_text("<html><body><script>noSuchFunction();</script></body></html>")
    assert any("noSuchFunction" in l for l in _chromium(bad.as_uri(), tmp_path / "bad.png", tmp_path / "u0"))
    assert _chromium(html_path.as_uri(), tmp_path / "report.png", tmp_path / "u1") == []
    # leaderboard: also click every header (twice) so the sorting code actually runs
    page = lb.read_text().replace("</body>", "<script>document.querySelectorAll('th').forEach(function (t) "
                                            "{ t.click(); t.click(); });</script></body>")
    clicked = tmp_path / "lb.html"; clicked.write_text(page)
    assert _chromium(clicked.as_uri(), tmp_path / "lb.png", tmp_path / "u2") == []


def test_report_all_renders_every_listed_paper_two_at_a_time(tmp_path):
    "`sembed report --all --jobs 2` (the `reports` stage): every paper of params.yaml's `papers`, then the leaderboard."
    root = synthetic_results(tmp_path / "tree", "sbert", scale="smoke", params=repo_params())
    sbert = yaml.safe_load((root / "params.yaml").read_text())
    synthetic_results(root, "simcse", scale="smoke", params=repo_params())      # same tree: both papers' results
    text = (root / "params.yaml").read_text()
    both = yaml.safe_load(text); both["papers"] = ["simcse", "sbert"]; both["experiments"].update(sbert["experiments"])
    (root / "params.yaml").write_text(text.splitlines()[0] + "\n" + yaml.safe_dump(both, sort_keys=False))
    p = subprocess.run([str(Path(sys.executable).parent / "sembed"), "report", "--all", "--jobs", "2", "--root", str(root)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [l for l in p.stdout.splitlines() if l.startswith("report: ")]
    assert [Path(l.split(" ", 1)[1]).name for l in lines] == ["simcse.html", "sbert.html", "leaderboard.html"]
    for paper, title in [("simcse", "SimCSE"), ("sbert", "Sentence-BERT")]:
        text = BeautifulSoup((root / "reports" / f"{paper}.html").read_text(), "html.parser").get_text(" ")
        assert title in text and "SYNTHETIC" in text.upper(), paper
    bad = subprocess.run([str(Path(sys.executable).parent / "sembed"), "report", "--all", "--paper", "simcse", "--root", str(root)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "exactly one of" in bad.stderr


XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


def test_report_and_leaderboard_escape_every_string(tmp_path):
    """Labels (params.yaml), notes, sweep values (result files) holding markup are text in the report and the leaderboard,
    never markup: the sweep and layer-grid headings of the template included (whitening-not-recommended has the sweeps)."""
    params = repo_params()
    pid = "whitening-not-recommended"
    rows = [k for k, v in params["experiments"].items() if v.get("paper") == pid]
    for k in rows: params["experiments"][k]["label"] = f"{XSS[0]} {k} {XSS[1]}"
    root = synthetic_results(tmp_path, pid, scale="smoke", params=params)
    for k in rows:   # a sweep (one swept value with markup) and a layer grid in each row's result; a note with markup
        f = root / f"results/{k}.json"
        res = json.loads(f.read_text())
        tasks = list(res["tasks"])
        res["sweep"] = {"fields": ["variant"], "tasks": tasks,
                        "rows": [{"values": {"variant": v}, "tasks": {t: {"spearman": 40.0 + i} for t in tasks}, "avg": 40.0 + i}
                                 for i, v in enumerate(["pca", XSS[1]])]}
        res["layer_grid"] = {"layers": [1, 2], "dims": [8, 16], "spearman": [[40.0, 41.0], [42.0, 43.0]]}
        res["provenance"]["note"] = f"{SYNTHETIC_NOTE} {XSS[0]} {XSS[1]}"
        f.write_text(json.dumps(res))
    page = render_report(pid, root=root, template=TEMPLATE).read_text()
    board = render_leaderboard(root).read_text()
    for text in (page, board):
        for tag in ("<script>alert", "<img src=x", "</script> "):
            assert tag not in text, tag
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.find_all("img", src="x") and not [s for s in soup.find_all("script") if "alert" in s.get_text()]
    heads = [h.get_text() for h in soup.find_all("h3")]
    for k in rows:   # the sweep's heading and the layer grid's, each showing the label as text
        assert heads.count(f"{XSS[0]} {k} {XSS[1]}") == 2, (k, heads)
    assert f"{XSS[0]} {XSS[1]}" in soup.select_one("table.provenance").get_text() and soup.select("table.sweep")


def _measured_tree(tmp_path, paper, rows, params=None):
    "A smoke tree of `paper` (synthetic) with `rows` also 'measured at full' (synthetic, seed 1) under measured/full/results/."
    root = synthetic_results(tmp_path / "repo", paper, scale="smoke", params=params)
    full = synthetic_results(tmp_path / "full", paper, scale="full", seed=1, params=params)
    (root / "measured/full/results").mkdir(parents=True)
    for k in rows:
        for suffix in (".json", ".train.json"): shutil.copy(full / f"results/{k}{suffix}", root / "measured/full/results")
    return root, full


def test_leaderboard_headline_is_full_rows(tmp_path):
    """Issue 28 point 4, issue 31 point 5: the leaderboard's headline table holds the rows measured at full (their numbers,
    n, Δ against their own baseline at full, a link to the report and to every column), the smoke rows only the pipeline
    check below it; both compact (≤ 14 columns); the rows not measured at full are named; a stale row is marked."""
    import pandas as pd
    from sembed.report import COMPACT_COLUMNS
    measured = ["simcse-base-cls-before-pooler", "simcse-unsup"]   # unsup and its baseline
    root, full = _measured_tree(tmp_path, "simcse", measured)
    (root / "reports").mkdir(); (root / "reports/simcse.html").write_text("<html></html>")   # a rendered report beside it
    soup = BeautifulSoup(render_leaderboard(root).read_text(), "html.parser")
    head, check = soup.select_one("table.headline"), soup.select_one("table.pipeline-check")
    for t in (head, check):
        heads = [th.get_text(strip=True) for th in t.select("thead th")]
        assert heads == COMPACT_COLUMNS and len(heads) <= 14 and "n" in heads
    rows = {tr["data-experiment"]: tr for tr in head.select("tbody tr")}
    assert list(rows) == measured and all(tr["data-scale"] == "full" for tr in rows.values())
    res = {k: json.loads((full / f"results/{k}.json").read_text()) for k in measured}
    smoke = {k: json.loads((root / f"results/{k}.json").read_text()) for k in PAPER_ROWS}
    u = [td.get_text(" ", strip=True) for td in rows["simcse-unsup"].find_all("td")]
    assert u[COMPACT_COLUMNS.index("scale")] == "full" and u[COMPACT_COLUMNS.index("n")] == "7,000"   # every pair, 7 tasks
    assert u[COMPACT_COLUMNS.index("avg")] == f"{res['simcse-unsup']['avg']:.2f}"
    assert u[COMPACT_COLUMNS.index("Δ baseline")] == f"{res['simcse-unsup']['avg'] - res['simcse-base-cls-before-pooler']['avg']:+.2f}"
    links = {a.get_text(): a["href"] for a in rows["simcse-unsup"].select("td.links a")}
    assert links == {"report": "simcse.html", "details": "#d-full-simcse-unsup"} and soup.select_one("#d-full-simcse-unsup")
    # smoke numbers never in the headline; every smoke row in the pipeline check, with its sample size
    assert not any(f"{r['avg']:.2f}" in head.get_text() for r in smoke.values())
    chk = {tr["data-experiment"]: tr for tr in check.select("tbody tr")}
    assert set(PAPER_ROWS) <= set(chk) and all(tr["data-scale"] == "smoke" for tr in chk.values())
    assert chk["simcse-unsup"].select_one("td.n").get_text() == "3,500 (sample)"
    assert f"{smoke['simcse-unsup']['avg']:.2f}" in chk["simcse-unsup"].get_text()
    assert not chk["minilm-avg"].select("td.links a[href$='.html']")   # a plain baseline: no report to link
    named = [li.code.get_text() for li in soup.select("details.not-measured li")]
    assert "simcse-sup" in named and "simcse-base-cls" in named and not set(measured) & set(named)
    df = pd.read_csv(root / "reports/leaderboard.csv")   # every column stays in the CSV
    assert list(df.columns) == LEADERBOARD_COLUMNS and {"n", "max_pairs", "delta_baseline"} <= set(df.columns)
    f = df[(df.experiment == "simcse-unsup") & (df.scale == "full")].iloc[0]
    assert f["n"] == 7000 and pd.isna(f["max_pairs"]) and abs(f["delta_baseline"] - float(u[COMPACT_COLUMNS.index("Δ baseline")])) < 1e-9
    # a changed setting: the measured row is stale, marked in the headline with why
    p = load_params(root / "params.yaml"); p["experiments"]["simcse-unsup"]["scales"]["smoke"]["learning_rate"] = 1.0e-4
    (root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    soup = BeautifulSoup(render_leaderboard(root).read_text(), "html.parser")
    stale = soup.select("table.headline tr.stale")
    assert [tr["data-experiment"] for tr in stale] == ["simcse-unsup"]
    badge = stale[0].select_one(".badge")
    assert badge.get_text() == "stale" and "learning_rate" in badge["title"]


def test_training_free_report_labels(tmp_path):
    """Issue 31 point 4 and issue 28 point 4 on a training-free paper with rows measured at full (PromptEOL, SmolLM2):
    the banner says real measurement on our model (not 'not a replication'), the note gives the smoke sample (not 'full
    evaluation size'), the full rows come first with Δ against their baseline at full, every row says what it was scored on."""
    rows = ["smollm2-last-token", "prompteol-smollm2"]
    root, full = _measured_tree(tmp_path, "prompteol", rows)
    soup = BeautifulSoup(render_report("prompteol", root=root, template=TEMPLATE).read_text(), "html.parser")
    banner = soup.select_one(".smoke-banner")
    assert "banner-measurement" in banner["class"] and "real measurement on smollm2-135m" in banner.get_text()
    assert "not a replication" not in banner.get_text() and "≤ 345 pairs per task" in banner.get_text()
    note = soup.select_one(".smoke-note").get_text()
    assert "full evaluation size" not in note and "≤ 345 pairs per task" in note
    first = soup.find("table")   # the headline: the rows measured at full, before anything at smoke
    assert "measured" in first["class"]
    res = {k: json.loads((full / f"results/{k}.json").read_text()) for k in rows}
    tr = next(tr for tr in first.select("tbody tr") if "PromptEOL" in tr.get_text())   # its baseline row is shown too
    cells = [td.get_text(strip=True) for td in tr.find_all("td")]
    assert f"{res['prompteol-smollm2']['avg']:.2f}" in cells
    assert f"{res['prompteol-smollm2']['avg'] - res['smollm2-last-token']['avg']:+.2f}" in cells   # Δ vs its baseline, both at full
    assert "n = 7,000, every pair of 7 tasks" in cells
    assert soup.find("h2", string=lambda s: s and s.startswith("Scale smoke:"))   # the rest is said to be at smoke
    comp = soup.select_one("table.comparison").get_text(" ")
    assert "(smollm2-135m, smoke) — n = 2,415, sample of ≤ 345 pairs per task, 7 tasks" in comp
    assert "scored on" in [th.get_text() for th in soup.select("table.row-provenance thead th")]


def test_chart_titles_say_what_the_rows_are(tmp_path):
    "Issue 31 point 4: the per-task panel of method rows without a reported row is not titled 'Before training'."
    import matplotlib; matplotlib.use("Agg")
    titles = lambda f: [a.get_title() or (a.get_legend().get_title().get_text() if a.get_legend() else "") for a in f.axes]
    for paper in ("ditto", "prompteol"):
        t = titles(plot_task_bars(report_data(paper, synthetic_results(tmp_path / paper, paper))))
        # the method rows, and the plain baseline row they are measured against (shown in the paper's report too)
        assert not any("Before training" in x for x in t) and any(x.endswith("ows without a reported row (scale smoke)") for x in t), (paper, t)
    t = titles(plot_task_bars(report_data("simcse", synthetic_results(tmp_path / "simcse"))))
    assert "Before training: no method applied (scale smoke)" in t   # SimCSE's poolers before training: said so
