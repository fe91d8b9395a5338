"""The documentation site (`invoke docs`, sembed.docs): built once into a temporary folder, then checked page by page."""
import hashlib, html, json, os, re, shutil, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote
import pytest, yaml
from conftest import ROOT
from sembed.docs import SITE_MARK, nb_title, notebooks, page_name

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "Run `invoke docs --out <tmp>` once; returns (site folder, invoke's output). README.md must come out unchanged."
    out = tmp_path_factory.mktemp("site") / "_docs"
    readme = hashlib.sha256((ROOT / "README.md").read_bytes()).hexdigest()
    env = {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ["PATH"]}
    p = subprocess.run([str(BIN / "invoke"), "docs", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert hashlib.sha256((ROOT / "README.md").read_bytes()).hexdigest() == readme, "invoke docs changed README.md"
    return out, p.stdout + p.stderr


def _soup(path):
    from bs4 import BeautifulSoup
    return BeautifulSoup(Path(path).read_text(), "html.parser")


def _title(path):
    return html.unescape(re.search(r"<title>(.*?)</title>", Path(path).read_text(), re.S).group(1))


class _Links(HTMLParser):
    "href/src attributes of the tags of a page (text such as highlighted code is not a link)."
    def __init__(self, text):
        super().__init__(); self.urls, self.remote = [], []
        self.feed(text)
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.urls.append(v)
                if tag in ("script", "link") and re.match(r"^(https?:)?//", v): self.remote.append(v)


def test_builder_is_named(site):
    out, log = site
    assert (out / SITE_MARK).exists() and (out / "index.html").exists()
    if shutil.which("quarto") is None:   # the fallback says so, in one line
        assert len([l for l in log.splitlines() if "Quarto is not installed" in l]) == 1


def test_a_page_per_notebook(site):
    out, _ = site
    nbs = notebooks(ROOT)
    assert len(nbs) >= 15 and any(n.name == "15_scaling.ipynb" for n in nbs)
    for nb in nbs:
        page = out / page_name(nb)
        assert page.exists(), f"no page for {nb.name}"
        if nb.name != "index.ipynb":     # index.ipynb is the home page: the README
            assert _title(page) == f"{nb_title(nb)} – sembed", nb.name


def test_index_has_the_readme_method_table(site):
    out, _ = site
    text = (ROOT / "README.md").read_text()
    block = text[text.index("<!-- methods:begin (invoke readme) -->"):text.index("<!-- methods:end -->")]
    rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in block.splitlines()[1:] if l.startswith("|")]
    want = [rows[0]] + rows[2:]                                    # header and body (no |---| line)
    tables = [[[c.get_text().strip() for c in tr.find_all(["th", "td"])] for tr in t.find_all("tr")] for t in _soup(out / "index.html").find_all("table")]
    assert want in tables
    assert len(want) >= 3 and {"simcse-unsup", "simcse-sup"} <= {r[0] for r in want}


def test_papers_page(site):
    "Every registry paper's full title, authors and arXiv link; its report linked when rendered, else the command that renders it."
    out, _ = site
    papers = yaml.safe_load((ROOT / "sembed" / "resources" / "papers.yaml").read_text())["papers"]
    page = _soup(out / "papers.html")
    text = page.get_text()
    hrefs = {a["href"] for a in page.find_all("a", href=True)}
    for pid, p in papers.items():
        assert p["title"] in text and all(a in text for a in p["authors"])
        assert (f"https://arxiv.org/abs/{p['arxiv']}" if p.get("arxiv") else p["url"]) in hrefs
        if (ROOT / "reports" / f"{pid}.html").exists():
            assert f"reports/{pid}.html" in hrefs and (out / "reports" / f"{pid}.html").exists()
        else:
            assert f"reports/{pid}.html" not in hrefs and "invoke report --all" in text
    assert ("reports/leaderboard.html" in hrefs) == (ROOT / "reports" / "leaderboard.html").exists()
    # every page links to the papers page
    assert all('href="papers.html"' in p.read_text() for p in out.glob("*.html"))


def test_scaling_out_page(site):
    out, _ = site
    text = _soup(out / "scaling.html").get_text()
    for s in ["dvc exp run --queue", "dvc queue start --jobs", "dvc queue status", "dvc exp show", "dvc exp apply",
              "torchrun --nproc_per_node", "train --experiment"]:
        assert s in text, s
    assert 'href="scaling.html"' in (out / "index.html").read_text()   # in the navigation


def test_every_internal_link_resolves(site):
    "Every relative href/src of every page (reports included) names a file of the site; no CDN script or stylesheet."
    out, _ = site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 15
    checked = 0
    for page in pages:
        links = _Links(page.read_text())
        for url in links.urls:
            if not url or url.startswith(("#", "data:")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url): continue
            target = (page.parent / unquote(url.split("#")[0].split("?")[0])).resolve()
            assert target.is_file() and target.is_relative_to(out.resolve()), f"{page.relative_to(out)}: broken link {url}"
            checked += 1
        if page.parent == out:   # our pages load nothing from the network (reports are checked by their own tests)
            assert links.remote == [], page.name
    assert checked > 100


def test_index_renders_in_chromium_without_console_errors(site, tmp_path):
    from test_report import CHROMIUM, _chromium
    if CHROMIUM is None: pytest.skip("chromium not installed (apt-get install -y chromium)")
    out, _ = site
    assert _chromium((out / "index.html").as_uri(), tmp_path / "index.png", tmp_path / "u1") == []
    assert _chromium((out / "scaling.html").as_uri(), tmp_path / "scaling.png", tmp_path / "u2") == []


FAKE_QUARTO = r"""#!{python}
# Stand-in for `quarto render` (Quarto cannot be installed offline): records the project it was given and writes
# _site/<page>.html holding each source's text, so the test can check what Quarto would have rendered.
import json, sys
from pathlib import Path
assert sys.argv[1:] == ["render", "--no-cache"], sys.argv
site = Path("_site"); site.mkdir()
record = {{"quarto_yml": Path("_quarto.yml").read_text(), "files": sorted(p.name for p in Path(".").iterdir())}}
for p in Path(".").iterdir():
    if p.suffix == ".md": text = p.read_text()
    elif p.suffix == ".ipynb": text = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                                               for c in json.loads(p.read_text())["cells"])
    else: continue
    (site / (p.stem + ".html")).write_text("<html><body><pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre></body></html>")
(site / "record.json").write_text(json.dumps(record))
"""


def test_quarto_builder_with_a_stand_in_quarto(tmp_path, monkeypatch):
    "With `quarto` on PATH the site is a Quarto project: every page, README as index, papers, navigation; README.md untouched."
    from sembed.docs import build_site
    fake = tmp_path / "bin" / "quarto"
    fake.parent.mkdir(); fake.write_text(FAKE_QUARTO.format(python=sys.executable)); fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    readme = (ROOT / "README.md").read_bytes()
    logs = []
    idx = build_site(ROOT, out=tmp_path / "site", log=logs.append)               # auto: quarto is found
    assert (ROOT / "README.md").read_bytes() == readme and not any("not installed" in l for l in logs)
    out = idx.parent
    rec = json.loads((out / "record.json").read_text())
    cfg = yaml.safe_load(rec["quarto_yml"])
    assert cfg["execute"] == {"enabled": False} and cfg["project"]["output-dir"] == "_site"
    pages = [page_name(nb) for nb in notebooks(ROOT)]
    assert sorted(cfg["website"]["sidebar"]["contents"]) == sorted(["index.md", "papers.md"] + [p.replace(".html", ".ipynb") for p in pages if p != "index.html"])
    assert {"href": "scaling.ipynb", "text": "Scaling out"} in cfg["website"]["navbar"]["left"]
    for p in pages + ["papers.html"]:
        assert (out / p).exists(), p
    text = (ROOT / "README.md").read_text()
    table = text[text.index("<!-- methods:begin (invoke readme) -->"):text.index("<!-- methods:end -->")].splitlines()[1:]
    index = html.unescape((out / "index.html").read_text())
    assert all(l in index for l in table if l.startswith("|"))
    assert "(nbs/" not in index                                                      # README links go to site pages
    assert "#|" not in html.unescape((out / "train.html").read_text())              # notebooks as nbdev's docs show them
    assert "dvc queue start" in (out / "scaling.html").read_text()
    assert r"$$\ell_i = -\log \frac" in (out / "simcse.html").read_text()       # Quarto gets the formulas as LaTeX (MathJax renders them)
    assert all(p["title"] in html.unescape((out / "papers.html").read_text())
               for p in yaml.safe_load((ROOT / "sembed" / "resources" / "papers.yaml").read_text())["papers"].values())


def test_site_escapes_registry_text_and_links(tmp_path):
    "A registry title / version / url and a page name or title with markup are text or a quoted attribute on the site, never markup."
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    from sembed.docs import _page, papers_markdown
    from sembed.registry import registry_path
    xss = "<script>alert(1)</script>"
    reg = yaml.safe_load(registry_path().read_text())
    p = reg["papers"]["simcse"]
    p["title"], p["version"] = f"SimCSE {xss}", "v4 <img src=x onerror=alert(1)>"
    (tmp_path / "sembed" / "resources").mkdir(parents=True); (tmp_path / "nbs").mkdir()
    (tmp_path / "sembed" / "resources" / "papers.yaml").write_text(yaml.safe_dump(reg, sort_keys=False))
    body = markdown2html_mistune(papers_markdown(tmp_path))
    assert "<script>" not in body and "<img" not in body
    assert f"SimCSE {html.escape(xss, quote=False)}" in body and "v4 &lt;img src=x onerror=alert(1)&gt;" in body
    page = _page(f"t {xss}", "<p>body</p>", {"top": [('x.html" onmouseover="alert(1)', f"n {xss}")], "side": []}, "")
    assert "<script>" not in page and ' onmouseover="' not in page
    assert '<a href="x.html&#34; onmouseover=&#34;alert(1)">n &lt;script&gt;' in page
    assert html.unescape(re.search(r"<title>(.*?)</title>", page).group(1)) == f"t {xss} – sembed"


# ---- formulas, wide content, search, the papers page's commands (issue 31, point 7) ----

def _reader_text(path):
    "Text of a page's <main> as a reader sees it outside code and formulas (code keeps its `$` and backslashes)."
    main = Path(path).read_text().split("<main>", 1)[1].split("</main>", 1)[0]
    for tag in ["pre", "code", "math", "script", "style"]: main = re.sub(rf"<{tag}\b.*?</{tag}>", " ", main, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", main))


def _markdown_sources(nb):
    return [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
            for c in json.loads(Path(nb).read_text())["cells"] if c["cell_type"] == "markdown"]


def test_formulas_are_mathml(site):
    "Every formula of the notebooks' markdown is MathML on the fallback site: no `$$`, no raw TeX command left in the text."
    out, _ = site
    if shutil.which("quarto"): pytest.skip("Quarto renders the formulas (MathJax)")
    prose = lambda s: re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", s, flags=re.S))      # markdown without its code
    display = [nb for nb in notebooks(ROOT) if any("$$" in prose(s) for s in _markdown_sources(nb))]
    assert len(display) >= 10 and any(nb.name == "10_simcse.ipynb" for nb in display)
    for nb in display:
        page = out / page_name(nb)
        text, raw = _reader_text(page), page.read_text()
        assert "$$" not in text and '<math display="block">' in raw, nb.name
    for page in sorted(out.glob("*.html")):
        assert not re.search(r"\\[A-Za-z]{2,}", _reader_text(page)), page.name    # no \frac, \ell, ... as text
    simcse = (out / "simcse.html").read_text()
    assert r'<annotation encoding="application/x-tex">\ell_i = -\log \frac' in simcse and simcse.count("<math") >= 4
    assert "$SEMBED_MIRROR" in _soup(out / "cli.html").find("main").get_text()        # a shell variable stays text


def test_dollar_text_and_code_are_not_math():
    "Only what parses as math is rendered (pandoc's rule); code and prices stay as written; what latex2mathml cannot convert is its source."
    from sembed.docs import markdown_html, tex_to_mathml
    h = markdown_html("Set $SEMBED_MIRROR or $HOME/$USER; it costs $5 and $10. `$a$` and\n\n```\n$$b$$ $c$\n```\n\nbut $x_1$ is math.")
    assert h.count("<math") == 1 and "Set $SEMBED_MIRROR or $HOME/$USER; it costs $5 and $10." in h
    assert "<code>$a$</code>" in h and "$$b$$ $c$" in h
    assert tex_to_mathml(r"\frac{") == '<code class="math-tex">$\\frac{$</code>'


def test_wide_content_scrolls_in_its_own_box(site, tmp_path):
    "Code blocks, tables and displayed formulas scroll sideways inside the text column; nothing sticks out of it (cut)."
    out, _ = site
    if shutil.which("quarto"): pytest.skip("Quarto's stylesheet")
    css = (out / "style.css").read_text()
    rule = lambda sel: re.search(r"(?:^|\})" + re.escape(sel) + r"\{([^}]*)\}", css, re.M).group(1)
    assert "overflow-x:auto" in rule("pre") and "overflow-x:auto" in rule("table") and "overflow-x:auto" in rule(".math-display")
    assert "min-width:0" in rule("main") and "overflow-x" not in rule("main")       # the column never scrolls (hides) as a whole
    from test_report import CHROMIUM
    if CHROMIUM is None: pytest.skip("chromium not installed (apt-get install -y chromium)")
    probe = """<script>window.addEventListener("load", function () {
      var m = document.querySelector("main"), right = m.getBoundingClientRect().right, bad = [];
      function scrolls(e) { for (; e && e !== m; e = e.parentElement) { var o = getComputedStyle(e).overflowX; if (o === "auto" || o === "scroll") return true; } return false; }
      document.querySelectorAll("main *").forEach(function (e) {
        if (e.getBoundingClientRect().right > right + 1 && !scrolls(e.parentElement)) bad.push(e.tagName + " " + e.textContent.slice(0, 50)); });
      document.querySelectorAll("main pre, main table").forEach(function (e) { if (getComputedStyle(e).overflowX !== "auto") bad.push("no scroll: " + e.tagName); });
      if (document.documentElement.scrollWidth > window.innerWidth) bad.push("the page scrolls sideways");
      var r = document.createElement("pre"); r.id = "probe"; r.textContent = "bad=" + JSON.stringify(bad); document.body.appendChild(r); });</script>"""
    site2 = tmp_path / "site"; shutil.copytree(out, site2)
    for name in ["index.html", "cli.html", "st_folder.html", "contrastive-prompting.html"]:   # wide tables, code, formulas
        page = site2 / name
        page.write_text(page.read_text().replace("</body>", probe + "</body>"))
        dom = _dom(page.as_uri(), tmp_path / "u", width=1000)
        assert 'id="probe">bad=[]<' in dom, f"{name}: {html.unescape(re.search(r'id=.probe.>(.*?)<', dom, re.S).group(1))[:500]}"


def _dom(url, user_dir, width=1200):
    "The DOM of `url` after it loaded, from headless Chromium."
    from test_report import CHROMIUM
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", f"--user-data-dir={user_dir}", f"--window-size={width},1000",
                        "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "</html>" in p.stdout, p.stderr[-2000:]
    return p.stdout


def test_search_index_and_box(site, tmp_path):
    "search_index.js lists every page with its text; every page has the search box; `?q=` shows matching pages, offline."
    out, _ = site
    if shutil.which("quarto"): pytest.skip("Quarto's own search")
    js = (out / "search_index.js").read_text()
    assert js.startswith("window.sembedSearch = ") and js.rstrip().endswith(";")
    index = json.loads(js.strip()[len("window.sembedSearch = "):-1])
    pages = sorted(p.name for p in out.glob("*.html"))
    assert sorted(e["href"] for e in index) == pages and len(pages) == len(notebooks(ROOT)) + 1     # + papers.html
    by = {e["href"]: e for e in index}
    assert "dvc queue start --jobs" in by["scaling.html"]["text"] and by["scaling.html"]["title"] == nb_title(ROOT / "nbs/15_scaling.ipynb")
    assert not re.search(r"</?(span|div|p|pre|code|math|a)\b", by["simcse.html"]["text"]) and "InfoNCE" in by["simcse.html"]["text"]  # text, no markup
    for p in pages:
        t = (out / p).read_text()
        assert '<input id="search" type="search"' in t and '<script src="search_index.js"></script><script src="search.js"></script>' in t, p
    from test_report import CHROMIUM
    if CHROMIUM is None: pytest.skip("chromium not installed (apt-get install -y chromium)")
    dom = _dom((out / "simcse.html").as_uri() + "?q=whitening%20pca", tmp_path / "u")
    results = _soup_text(dom).find(id="search-results")
    assert results is not None and not results.has_attr("hidden")
    hrefs = [a["href"] for a in results.find_all("a")]
    assert "bert-whitening.html" in hrefs and all(h in pages for h in hrefs)
    assert all("whitening" in by[h]["text"].lower() + by[h]["title"].lower() and "pca" in by[h]["text"].lower() + by[h]["title"].lower() for h in hrefs)
    assert results.find("mark") is not None


def _soup_text(text):
    from bs4 import BeautifulSoup
    return BeautifulSoup(text, "html.parser")


def test_papers_page_names_the_command_that_renders_each_report(site):
    "A paper that params.yaml's `papers` does not list (DiffCSE, configured only) is not rendered by `invoke report --all`: its entry says `--paper`."
    out, _ = site
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert "diffcse" not in params["papers"] and params["configured"]["diffcse-unsup"]["paper"] == "diffcse"
    page = _soup(out / "papers.html")
    title = yaml.safe_load((ROOT / "sembed" / "resources" / "papers.yaml").read_text())["papers"]["diffcse"]["title"]
    h2 = next(h for h in page.find_all("h2") if h.get_text().startswith(title))
    entry = h2.find_next("ul").get_text()
    if not (ROOT / "reports" / "diffcse.html").exists():
        assert "invoke report --paper diffcse" in entry and "run invoke report --all" not in entry
        assert "configured, not run here" in entry and "distilbert-base-uncased" in entry
    simcse = next(h for h in page.find_all("h2") if h.get_text().startswith("SimCSE")).find_next("ul").get_text()
    assert "reports/simcse.html" in simcse or "run invoke report --all" in simcse      # a listed paper: --all renders it
