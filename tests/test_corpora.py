"""The corpus datasets (issue 28, point 2): the Brown Corpus and WordNet 3.1 through `download` (fake mirror, fake
online archives, the real mirror, the `sembed` command) and their readers `brown_sentences` / `wordnet_definitions`."""
import gzip, hashlib, io, os, re, shutil, tarfile, zipfile
from pathlib import Path
import pytest
import sembed.data as D
from sembed.core import SembedError, sha256_file
from sembed.methods import CORPORA
from conftest import error_lines, mirror_copy, run_sembed

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get(D.MIRROR_ENV) or REPO / ".." / "shared" / "data").resolve()
needs_mirror = pytest.mark.skipif(not (MIRROR / "SHA256SUMS").exists(), reason=f"no data mirror at {MIRROR}")

BROWN = {"brown/ca01": "\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n"
                       "\tIt/pps recommended/vbd reforms/nns ,/, ,/, and/cc and/or/cc more/ap ;/. ;/.\n",
         "brown/cb02": "\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\tHe/pps left/vbd (/( at/in 5/cd p.m./rb )/) ./.\n",
         "brown/README": "BROWN CORPUS\n"}
NOUN = ("  1 This software and database is being provided to you, the LICENSEE, by  \n"
        '00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived; "an example"  \n'
        "00002137 03 n 02 abstraction 0 abstract_entity 0 001 @ 00001740 n 0000 | a general concept  \n")
WORDNET = {f: "" for f in D.WORDNET_FILES} | {
    "dict/data.noun": NOUN,
    "dict/data.verb": '01617678 35 v 01 hitch d 002 @ 01357376 v 0000 01 + 21 00 | connect to a vehicle: "hitch the trailer to the car"  \n',
    "dict/data.adj": '00019769 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019169 a 0000 | easy to reach; "found a handy spot for the can opener"  \n',
    "dict/data.adv": "00001749 02 r 01 barely 0 000 | only a very short time before  \n",
    "dict/index.noun": "entity n 1 1 ~ 1 0 00001740  \n"}


def _zip(files, path, prefix=""):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items(): z.writestr(prefix + name, text)
    return path


def make_mirror(root):
    "A tiny mirror with the two corpus datasets in the real layout, its SHA256SUMS, and a manifest built from it."
    m = Path(root)
    (m / "nltk_data/corpora").mkdir(parents=True)
    _zip(BROWN, m / D.CORPUS_DATA["brown"])
    for rel, text in WORDNET.items():
        (m / "wordnet-3.1" / rel).parent.mkdir(parents=True, exist_ok=True)
        (m / "wordnet-3.1" / f"{rel}.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    shutil.copyfile(D.wordnet_license_path(), m / "wordnet-3.1/LICENSE")
    files = [p for p in sorted(m.rglob("*")) if p.is_file()]
    (m / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  ./{p.relative_to(m)}\n" for p in files))
    return m, {"senteval": {}, "mteb": {}, **{n: D.corpus_manifest(m, n) for n in D.CORPUS_DATA}}


def files_under(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- download: fake mirror and fake online archives

def test_corpus_download_from_fake_mirror(tmp_path):
    mirror, man = make_mirror(tmp_path / "mirror")
    out = D.download(tmp_path / "out", only=["brown", "wordnet"], mirror=mirror, manifest=man)
    got = files_under(out)
    assert got == {k: v for k, v in files_under(mirror).items() if k != "SHA256SUMS"}   # the mirror's files, byte for byte
    assert D.brown_sentences(out) == ['The Fulton jury said "no evidence".', "It recommended reforms, and and/or more;",
                                      "He left (at 5 p.m.)."]
    assert D.wordnet_definitions(out) == [("entity", "noun", "that which is perceived"), ("abstraction", "noun", "a general concept"),
                                          ("abstract entity", "noun", "a general concept"), ("hitch", "verb", "connect to a vehicle"),
                                          ("handy", "adj", "easy to reach"), ("ready to hand", "adj", "easy to reach"), ("barely", "adv", "only a very short time before")]
    D.download(tmp_path / "default", mirror=mirror, manifest=man)       # the default download: the evaluation data only
    assert sorted(p.name for p in (tmp_path / "default").iterdir()) == ["mteb", "senteval"]


def test_online_code_path_verifies_the_extracted_files(tmp_path, monkeypatch):
    "NLTK's zip and Princeton's tar.gz (packed differently from the mirror's copies): the same members, verified, stored."
    mirror, man = make_mirror(tmp_path / "mirror")
    D.download(tmp_path / "from_mirror", only=["brown", "wordnet"], mirror=mirror, manifest=man)
    online_zip = _zip({**BROWN, "brown/cats.pickle": "unused"}, tmp_path / "nltk-brown.zip")   # an extra member is ignored
    with tarfile.open(tmp_path / "wn3.1.dict.tar.gz", "w:gz") as tar:   # Princeton's layout: dict/<file>, uncompressed, and more files
        for rel, text in {**WORDNET, "dict/lexnames": "00\tadj.all\t3\n"}.items():
            info = tarfile.TarInfo(rel); info.size = len(text.encode()); tar.addfile(info, io.BytesIO(text.encode()))
    monkeypatch.delenv(D.MIRROR_ENV, raising=False)
    monkeypatch.setattr(D, "BROWN_URL", online_zip.as_uri())
    monkeypatch.setattr(D, "WORDNET_URL", (tmp_path / "wn3.1.dict.tar.gz").as_uri())
    out = D.download(tmp_path / "online", only=["brown", "wordnet"], manifest=man)
    assert (out / D.CORPUS_DATA["brown"]).read_bytes() == online_zip.read_bytes()   # the archive as it came
    assert D.brown_sentences(out) == D.brown_sentences(tmp_path / "from_mirror")
    assert D.wordnet_definitions(out) == D.wordnet_definitions(tmp_path / "from_mirror")
    a, b = files_under(tmp_path / "from_mirror" / "wordnet-3.1"), files_under(out / "wordnet-3.1")
    assert set(a) == set(b) and all(gzip.decompress(a[f]) == gzip.decompress(b[f]) for f in a if f.endswith(".gz"))
    first = files_under(out)
    D.download(out, only="wordnet", manifest=man)
    assert files_under(out) == first                                               # re-compressing is deterministic
    (tmp_path / "bad.tar.gz").write_bytes(b"not a tar")
    monkeypatch.setattr(D, "WORDNET_URL", (tmp_path / "bad.tar.gz").as_uri())
    with pytest.raises(SembedError, match=r"bad\.tar\.gz: not a readable zip or tar archive"):
        D.download(tmp_path / "online2", only="wordnet", manifest=man)
    assert not (tmp_path / "online2").exists()


def test_tampered_corpus_file_is_refused_and_nothing_is_written(tmp_path):
    mirror, man = make_mirror(tmp_path / "mirror")
    _zip({**BROWN, "brown/cb02": BROWN["brown/cb02"].replace("5/cd", "6/cd")}, mirror / D.CORPUS_DATA["brown"])
    with pytest.raises(SembedError) as e: D.download(tmp_path / "out", only="brown", mirror=mirror, manifest=man)
    msg = str(e.value)
    assert "\n" not in msg and "brown.zip#brown/cb02: sha256 mismatch" in msg and man["brown"]["files"]["brown/cb02"]["sha256"] in msg
    (mirror / "wordnet-3.1/dict/data.adv.gz").write_bytes(gzip.compress(b"00001749 02 r 01 barely 0 000 | just  \n"))
    with pytest.raises(SembedError, match=r"wordnet-3\.1/dict/data\.adv\.gz: sha256 mismatch"):
        D.download(tmp_path / "out", only="wordnet", mirror=mirror, manifest=man)
    assert not (tmp_path / "out").exists()
    with pytest.raises(SembedError, match="data manifest: no entry for the brown dataset"):
        D.download(tmp_path / "out", only="brown", mirror=mirror, manifest={"senteval": {}, "mteb": {}})


@pytest.fixture()
def corpus_mirror(tmp_path, mirror):
    "A writable copy of the real mirror's corpus datasets (as test_cli.py's `small_mirror`)."
    return mirror_copy(mirror, tmp_path / "mirror", "nltk_data", "wordnet-3.1")


def test_missing_mirror_file_is_one_error_line_and_nothing_partial(corpus_mirror, tmp_path):
    "Through the `sembed` command: exit status 2, one `sembed: error:` line naming the file, no output."
    for only, name in (("wordnet", "wordnet-3.1/dict/index.sense.gz"), ("brown", "nltk_data/corpora/brown.zip")):
        (corpus_mirror / name).unlink()
        p = run_sembed("download", "--only", only, "--mirror", corpus_mirror, "--out", tmp_path / "data")
        assert p.returncode == 2 and len(error_lines(p)) == 1, p.stderr
        assert error_lines(p)[0] == f"sembed: error: {corpus_mirror / name}: missing from the mirror"
        assert not (tmp_path / "data").exists()
    p = run_sembed("download", "--only", "glue", "--mirror", corpus_mirror, "--out", tmp_path / "data")
    assert p.returncode == 2 and "senteval, mteb, brown, wordnet" in error_lines(p)[0]


def test_brown_corpus_is_fetched_when_data_lacks_it(tmp_path, monkeypatch):
    "The `brown` training corpus reads data/ when it has Brown, else a verified temporary download (nothing left in data/)."
    mirror, man = make_mirror(tmp_path / "mirror")
    data = D.write_toy_data(tmp_path / "data")
    monkeypatch.setenv(D.MIRROR_ENV, str(mirror))
    monkeypatch.setattr(D, "load_manifest", lambda path=None: man)
    before = files_under(data)
    sents = CORPORA["brown"].build(data)
    assert sents == D.brown_sentences(D.download(tmp_path / "d", only="brown", mirror=mirror, manifest=man))
    assert files_under(data) == before
    both = CORPORA["brown+snli"].build(data)
    assert both[:len(sents)] == sents and len(both) == len(set(both)) and set(both) >= set(CORPORA["snli-devtest-sentences"].build(data))
    (mirror / D.CORPUS_DATA["brown"]).unlink()
    with pytest.raises(SembedError, match=r"nltk_data/corpora/brown\.zip: missing from the mirror"): CORPORA["brown"].build(data)


def test_malformed_corpus_files(tmp_path):
    d = tmp_path / "nltk_data/corpora"; d.mkdir(parents=True)
    _zip({"brown/ca01": "\tThe/at dog/nn\n\tbarks ./.\n"}, d / "brown.zip")
    with pytest.raises(SembedError, match=r"brown\.zip#brown/ca01:2: token 'barks' is not word/tag"): D.brown_sentences(tmp_path)
    (d / "brown.zip").write_bytes(b"not a zip")
    with pytest.raises(SembedError, match=r"brown\.zip: not a readable zip archive"): D.brown_sentences(tmp_path)
    with pytest.raises(SembedError, match=r"nowhere/nltk_data/corpora/brown\.zip: file not found \(run `sembed download --only brown --out .*/nowhere` first\)"):
        D.brown_sentences(tmp_path / "nowhere")
    w = tmp_path / "wordnet-3.1/dict"; w.mkdir(parents=True)
    for pos in D.WORDNET_POS: (w / f"data.{pos}.gz").write_bytes(gzip.compress(b""))
    (w / "data.verb.gz").write_bytes(gzip.compress(b"01617678 35 v 03 hitch d 000 | connect\n"))
    with pytest.raises(SembedError, match=r"data\.verb\.gz:1: w_cnt '03': the line has fewer words"): D.wordnet_definitions(tmp_path)
    (w / "data.verb.gz").write_bytes(b"plain text")
    with pytest.raises(SembedError, match=r"data\.verb\.gz: cannot read gzipped WordNet data"): D.wordnet_definitions(tmp_path)


# ---------------------------------------------------------------- the real mirror

@needs_mirror
def test_real_mirror_download_matches_sha256sums(tmp_path):
    out = D.download(tmp_path / "data", only=["brown", "wordnet"], mirror=MIRROR)
    sums = D.read_sha256sums(MIRROR / "SHA256SUMS")
    written = {str(p.relative_to(out)): sha256_file(p) for p in out.rglob("*") if p.is_file()}
    assert len(written) == 11 and written == {f: sums[f] for f in written}   # brown.zip, 9 WordNet files, WordNet's LICENSE


@needs_mirror
def test_real_brown_sentences_are_raw_text():
    sents = D.brown_sentences(MIRROR)
    assert len(sents) == len(set(sents)) == 56417 >= 50000
    assert sents[0] == ("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election "
                        'produced "no evidence" that any irregularities took place.')
    with zipfile.ZipFile(MIRROR / D.CORPUS_DATA["brown"]) as z:   # the corpus's own slashed words: and/or, 1/2, /l/, AAb/, ...
        words = {t.rpartition("/")[0] for n in z.namelist() if re.fullmatch(r"brown/c[a-r]\d\d", n) for t in z.read(n).decode().split()}
    slashed = re.compile("|".join(map(re.escape, sorted((w for w in words if "/" in w), key=len, reverse=True))))
    tag = re.compile(r"/[a-z$*+-]+\b|/[.,:;()'`]|/--")                         # np-tl, nn$, pps+bez, ./., ,/, ...
    cleaned = [slashed.sub(" ", s) for s in sents if "/" in s]                 # a tag needs a slash
    assert len(cleaned) == 182 and [s for s in cleaned if tag.search(s) or "/" in s] == []   # no slash left at all
    assert not any(t in s.split() for s in sents for t in ("``", "''"))        # quote tokens printed as "
    assert not any(s != s.strip() or "  " in s or " ." == s[-2:] or " ," in s or '" .' in s for s in sents)


@needs_mirror
def test_real_wordnet_definitions():
    rows = D.wordnet_definitions(MIRROR)
    assert rows[:3] == [("entity", "noun", "that which is perceived or known or inferred to have its own distinct existence (living or nonliving)"),
                        ("physical entity", "noun", "an entity that has physical existence"),
                        ("abstraction", "noun", "a general concept formed by extracting common features from specific examples")]
    assert ("congener", "noun", "a whole (a thing or person) of the same kind or category as another") in rows
    assert ("hitch", "verb", "connect to a vehicle") in rows and ("ready to hand", "adj", "easy to reach") in rows
    assert len(rows) == 207272 and {p: sum(r[1] == p for r in rows) for p in D.WORDNET_POS} == {"noun": 146547, "verb": 25061, "adj": 30072, "adv": 5592}
    assert all(w and d and not re.search(r'[;:]\s*"', d) and "_" not in w for w, _, d in rows)
