"""Replication report and leaderboard rendered from a SYNTHETIC results tree (numbers generated here by
`sembed.report.synthetic_results`, never committed as results): table, provenance, smoke banner, embedded
plots, offline HTML, a headless-browser render without console errors, bad ids refused, no retraining."""
import hashlib, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path
import pytest
from bs4 import BeautifulSoup
from sembed.core import SembedError
from sembed.registry import get_paper, paper_ids
from sembed.report import SMOKE_BANNER, render_leaderboard, render_report, synthetic_results

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def tree_hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file() and "reports" not in p.parts}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    "A synthetic smoke-scale results tree and its rendered report + leaderboard."
    root = synthetic_results(tmp_path_factory.mktemp("fixture"), scale="smoke")
    before = tree_hashes(root)
    html_path = render_report("simcse", root=root, template=ROOT / "reports/templates/paper.ipynb")
    lb = render_leaderboard(root)
    return root, before, html_path, lb


def test_outputs_written(rendered):
    root, _, html_path, lb = rendered
    assert html_path == root / "reports/simcse.html"
    assert (root / "reports/simcse.ipynb").exists() and (root / "reports/leaderboard.csv").exists() and lb.exists()
    assert not [p for p in (root / "reports").iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_report_content(rendered):
    _, _, html_path, _ = rendered
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    text = soup.get_text(" ")
    # smoke banner + provenance header
    assert soup.find(class_="smoke-banner") and SMOKE_BANNER in soup.find(class_="smoke-banner").get_text()
    prov = {th.get_text(strip=True): td.get_text(strip=True) for tr in soup.select("table.provenance tr")
            for th, td in [(tr.find("th"), tr.find("td"))]}
    for field in ("scale", "base model", "training data", "seed", "hardware", "git commit", "dvc.lock sha256", "rendered"):
        assert prov.get(field), field
    assert re.fullmatch(r"[0-9a-f]{64}", prov["dvc.lock sha256"])
    assert "SYNTHETIC" in prov["notes"]
    # reported vs reproduced table with the SimCSE rows (paper numbers from Table 5)
    table = soup.select_one("table.comparison")
    assert table is not None
    ttext = table.get_text(" ")
    for s in ("Unsupervised SimCSE", "Supervised SimCSE", "paper (Table 5, bert-base-uncased)", "reproduced (minilm-l6, smoke)",
              "Δ reproduced − paper", "before training", "76.25", "81.57", "68.40", "84.25"):
        assert s in ttext, s
    assert "What differs from the paper" in text and "model = minilm-l6 (paper: bert-base-uncased)" in text
    # >= 3 plots embedded as base64 PNG, and no code cells
    imgs = [i for i in soup.find_all("img") if i.get("src", "").startswith("data:image/png;base64,")]
    assert len(imgs) >= 3
    assert "report_data(" not in text


def test_html_self_contained(rendered):
    for page in (rendered[2], rendered[3]):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        remote = [t.get(a) for t in soup.find_all(True) for a in ("src", "href")
                  if t.name in ("script", "img", "link", "iframe", "source", "embed") and re.match(r"(https?:)?//", t.get(a) or "")]
        assert not remote, remote
        assert not re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", page.read_text())


def test_leaderboard(rendered):
    root, *_ = rendered
    csv = (root / "reports/leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("paper,row,label,base_model,scale,protocol,STS12") and len(csv) == 1 + 4
    assert all(",senteval," in l for l in csv[1:])
    soup = BeautifulSoup((root / "reports/leaderboard.html").read_text(), "html.parser")
    assert soup.select_one("table.sortable") and soup.find("script")


def test_rerender_does_not_retrain(rendered):
    root, before, html_path, _ = rendered
    render_report("simcse", root=root, template=ROOT / "reports/templates/paper.ipynb")
    assert tree_hashes(root) == before, "rendering changed the results tree"
    assert not (root / "models").exists()


def test_paper_scale_has_no_banner(tmp_path):
    root = synthetic_results(tmp_path, scale="paper")
    soup = BeautifulSoup(render_report("simcse", root=root).read_text(), "html.parser")
    assert soup.find(class_="smoke-banner") is None
    assert "reproduced (bert-base-uncased, paper)" in soup.select_one("table.comparison").get_text(" ")


@pytest.mark.parametrize("bad", ["nonsense", "simcse'; import os"])
def test_bad_id_api(tmp_path, bad):
    with pytest.raises(SembedError, match=f"known ids: {', '.join(paper_ids())}"):
        render_report(bad, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["nonsense", "simcse'; import os"])
def test_bad_id_invoke(tmp_path, bad):
    "`invoke report --paper BAD` exits non-zero, prints the known ids, creates no file."
    work = tmp_path / "repo"; shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".git", "reports", "*.egg-info", ".venv", "data", "models"))
    before = {p for p in work.rglob("*")}
    inv = Path(sys.executable).parent / "invoke"
    env = {**os.environ, "PYTHONPATH": str(work)}
    p = subprocess.run([str(inv), "report", "--paper", bad], cwd=work, capture_output=True, text=True, env=env)
    assert p.returncode != 0
    assert f"known ids: {', '.join(paper_ids())}" in p.stderr + p.stdout
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
