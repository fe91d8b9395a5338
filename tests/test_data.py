"""sembed.data: download (fake mirror, fake online source, real mirror) and the SentEval / MTEB readers."""
import gzip, hashlib, io, json, os, tarfile
from pathlib import Path
import numpy as np
import pytest
import sembed.data as D
from sembed.core import SembedError, sha256_file

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get(D.MIRROR_ENV) or REPO / ".." / "shared" / "data").resolve()
needs_mirror = pytest.mark.skipif(not (MIRROR / "SHA256SUMS").exists(), reason=f"no data mirror at {MIRROR}")

ROWS = [{"sentence1": "A man plays.", "sentence2": "A man is playing.", "score": 4.8, "subset": "MSRvid"},
        {"sentence1": "A cat sleeps.", "sentence2": "A dog runs.", "score": 0.4, "subset": "MSRvid"}]
FILES = {"STS/STS12-en-test/STS.input.MSRvid.txt": "a man plays .\ta man is playing .\n",
         "STS/STS12-en-test/STS.gs.MSRvid.txt": "4.8\n",
         "SNLI/s1.dev": "a man sleeps .\n"}


def make_mirror(root):
    "A tiny mirror: a few SentEval files, one MTEB set, SHA256SUMS; returns (mirror, manifest)."
    m = Path(root)
    for rel, text in FILES.items():
        (m / "senteval/downstream" / rel).parent.mkdir(parents=True, exist_ok=True)
        (m / "senteval/downstream" / rel).write_text(text)
    D.write_jsonl_gz(m / "hf/mteb/sts12-sts/test.jsonl.gz", ROWS)
    (m / "SHA256SUMS").write_text("".join(f"{sha256_file(m / 'senteval/downstream' / r)}  ./senteval/downstream/{r}\n" for r in FILES))
    return m, D.build_manifest(m, files=list(FILES), mteb_ids=["sts12-sts"], corpora=[])


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_download_from_fake_mirror_verifies_and_is_idempotent(tmp_path):
    mirror, man = make_mirror(tmp_path / "mirror")
    out = D.download(tmp_path / "out", mirror=mirror, manifest=man)
    first = snapshot(out)
    assert set(first) == {f"senteval/downstream/{r}" for r in FILES} | {"mteb/sts12-sts/test.jsonl.gz"}
    assert first["senteval/downstream/SNLI/s1.dev"] == b"a man sleeps .\n"
    D.download(tmp_path / "out", mirror=mirror, manifest=man)
    assert snapshot(out) == first  # re-running writes byte-identical files
    s1, s2, y = D.load_sts("STS12", "mteb", root=out)["all"]
    assert (s1, s2, list(y)) == (["A man plays.", "A cat sleeps."], ["A man is playing.", "A dog runs."], [4.8, 0.4])


def test_mirror_from_environment_variable(tmp_path, monkeypatch):
    mirror, man = make_mirror(tmp_path / "mirror")
    monkeypatch.setenv(D.MIRROR_ENV, str(mirror))
    D.download(tmp_path / "out", only="senteval", manifest=man)
    assert (tmp_path / "out/senteval/downstream/SNLI/s1.dev").exists() and not (tmp_path / "out/mteb").exists()


def test_tampered_senteval_file_is_refused_and_nothing_partial_is_left(tmp_path):
    mirror, man = make_mirror(tmp_path / "mirror")
    bad = mirror / "senteval/downstream/SNLI/s1.dev"
    bad.write_text("a man sleeps !\n")
    with pytest.raises(SembedError) as e:
        D.download(tmp_path / "out", mirror=mirror, manifest=man)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and "sha256 mismatch" in msg
    assert man["senteval"]["SNLI/s1.dev"]["sha256"] in msg and sha256_file(bad) in msg
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_tampered_mteb_rows_are_refused_and_old_output_kept(tmp_path):
    mirror, man = make_mirror(tmp_path / "mirror")
    D.download(tmp_path / "out", mirror=mirror, manifest=man)
    before = snapshot(tmp_path / "out")
    D.write_jsonl_gz(mirror / "hf/mteb/sts12-sts/test.jsonl.gz", [ROWS[0], {**ROWS[1], "score": 0.5}])
    with pytest.raises(SembedError, match=r"sts12-sts/test\.jsonl\.gz: content digest mismatch: expected [0-9a-f]{64} \(2 rows\), got [0-9a-f]{64} \(2 rows\)"):
        D.download(tmp_path / "out", mirror=mirror, manifest=man, only=["mteb"])
    assert snapshot(tmp_path / "out") == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mteb", "senteval"]  # no temporary folders


def test_missing_mirror_file_is_named(tmp_path):
    mirror, man = make_mirror(tmp_path / "mirror")
    (mirror / "senteval/downstream/STS/STS12-en-test/STS.gs.MSRvid.txt").unlink()
    with pytest.raises(SembedError, match=r"STS12-en-test/STS\.gs\.MSRvid\.txt: missing from the mirror"):
        D.download(tmp_path / "out", mirror=mirror, manifest=man)
    assert not (tmp_path / "out" / "senteval").exists()
    (mirror / "hf/mteb/sts12-sts/test.jsonl.gz").unlink()
    with pytest.raises(SembedError, match=r"hf/mteb/sts12-sts/test\.jsonl\.gz: missing from the mirror"):
        D.download(tmp_path / "out", mirror=mirror, manifest=man, only="mteb")
    with pytest.raises(SembedError, match="nowhere: mirror folder not found"):
        D.download(tmp_path / "out", mirror=tmp_path / "nowhere", manifest=man)
    with pytest.raises(SembedError, match="only: unknown part 'glue'"):
        D.download(tmp_path / "out", mirror=mirror, manifest=man, only="glue")


def test_online_code_path_gives_the_same_files(tmp_path, monkeypatch):
    "The online path (tar over a URL, `datasets` rows) verified and written exactly like the mirror path."
    mirror, man = make_mirror(tmp_path / "mirror")
    D.download(tmp_path / "from_mirror", mirror=mirror, manifest=man)
    tar_path = tmp_path / "senteval.tar"
    with tarfile.open(tar_path, "w") as tar:  # members under a folder prefix, plus one we do not need
        for rel in FILES: tar.add(mirror / "senteval/downstream" / rel, arcname=f"downstream/{rel}")
        tar.add(mirror / "SHA256SUMS", arcname="downstream/other/README")
    monkeypatch.delenv(D.MIRROR_ENV, raising=False)
    monkeypatch.setattr(D, "SENTEVAL_URL", tar_path.as_uri())
    hf_rows = [{"sentence1": r["sentence1"], "sentence2": r["sentence2"], "score": np.float32(r["score"]).item(), "subset": r["subset"]}
               for r in reversed(ROWS)]  # hub rows: another order, float32 scores
    monkeypatch.setattr(D, "_hf_test_rows", lambda i: hf_rows if i == "sts12-sts" else pytest.fail(i))
    D.download(tmp_path / "online", manifest=man)
    a, b = snapshot(tmp_path / "from_mirror"), snapshot(tmp_path / "online")
    assert {k: v for k, v in a.items() if k.startswith("senteval")} == {k: v for k, v in b.items() if k.startswith("senteval")}
    assert D.mteb_digest(D.read_jsonl_gz(tmp_path / "online/mteb/sts12-sts/test.jsonl.gz")) == man["mteb"]["sts12-sts"]
    monkeypatch.setattr(D, "SENTEVAL_URL", (tmp_path / "nope.tar").as_uri())
    with pytest.raises(SembedError, match="nope.tar: download failed"):
        D.download(tmp_path / "online2", manifest=man, only="senteval")
    assert not (tmp_path / "online2" / "senteval").exists()


# ---------------------------------------------------------------- readers

def write(p, text):
    p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text); return p


def sts13(root, inputs=None, gold=None):
    "SentEval STS13 layout with 2 pairs per subset (one subset can be overridden)."
    d = Path(root) / "senteval/downstream/STS/STS13-en-test"
    for s in D.STS_SUBSETS["STS13"]:
        write(d / f"STS.input.{s}.txt", (inputs or {}).get(s, "a b\tc  d\ne f\tg h\n"))
        write(d / f"STS.gs.{s}.txt", (gold or {}).get(s, "1.5\n3\n"))
    return d


def test_sts_subsets_rejoined_and_unscored_skipped(tmp_path):
    sts13(tmp_path, inputs={"FNWN": "x  y\tz\nunscored\tpair\n p \t q r \n"}, gold={"FNWN": "2\n\n4.5\n"})
    data = D.load_sts("STS13", root=tmp_path)
    assert list(data) == ["FNWN", "headlines", "OnWN"]
    s1, s2, y = data["FNWN"]
    assert (s1, s2) == (["x y", "p"], ["z", "q r"]) and y.dtype == np.float64 and list(y) == [2.0, 4.5]
    assert data["OnWN"][1] == ["c d", "g h"]


@pytest.mark.parametrize("inputs,gold,message", [
    ("a\tb\tc\nd\te\n", "1\n2\n", "STS.input.headlines.txt:1: expected 2 tab-separated sentences, got 3 columns"),
    ("a b\n", "1\n", "STS.input.headlines.txt:1: expected 2 tab-separated sentences, got 1 columns"),
    ("a\tb\nc\td\n", "1\nfive\n", "STS.gs.headlines.txt:2: score: not a number 'five'"),
    ("a\tb\n \td\n", "1\n2\n", "STS.input.headlines.txt:2: sentence 1 is empty (' ')"),
    ("a\tb\nc\td\n", "1\n", "STS.gs.headlines.txt: 1 gold lines but"),
])
def test_malformed_sts_files(tmp_path, inputs, gold, message):
    sts13(tmp_path, inputs={"headlines": inputs}, gold={"headlines": gold})
    with pytest.raises(SembedError) as e: D.load_sts("STS13", root=tmp_path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_stsb_and_sick_columns_and_splits(tmp_path):
    b = tmp_path / "senteval/downstream/STS/STSBenchmark"
    write(b / "sts-dev.csv", "g\tf\ty\t1\t2.5\tA  man .\tA woman .\n")
    write(b / "sts-test.csv", "g\tf\ty\t1\t2.5\tA man .\tA woman .\tsrc\textra\ng\tf\ty\t2\t0\tx\ty\n")
    s = tmp_path / "senteval/downstream/SICK"
    write(s / "SICK_trial.txt", "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n1\tA\tB\t4\tNEUTRAL\n")
    write(s / "SICK_test_annotated.txt", "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\r\n1\tA\tB\t4\tNEUTRAL\r\n2\tC\tD\t1.2\tNEUTRAL\r\n")
    dev = D.load_sts("STS-B", split="dev", root=tmp_path)
    assert list(dev) == ["dev"] and dev["dev"][0] == ["A man ."] and list(dev["dev"][2]) == [2.5]
    assert len(D.load_sts("STS-B", root=tmp_path)["test"][2]) == 2
    assert D.load_sts("SICK-R", split="dev", root=tmp_path)["dev"][:2] == (["A"], ["B"])
    test = D.load_sts("SICK-R", root=tmp_path)["test"]
    assert (test[0], test[1], list(test[2])) == (["A", "C"], ["B", "D"], [4.0, 1.2])
    write(b / "sts-test.csv", "g\tf\ty\t1\t2.5\tA man .\n")
    with pytest.raises(SembedError, match=r"sts-test\.csv:1: expected at least 7 tab-separated columns, got 6"):
        D.load_sts("STS-B", root=tmp_path)
    write(b / "sts-test.csv", "g\tf\ty\t1\tn/a\tA\tB\n")
    with pytest.raises(SembedError, match=r"sts-test\.csv:1: score: not a number 'n/a'"):
        D.load_sts("STS-B", root=tmp_path)


def test_bad_task_protocol_split(tmp_path):
    with pytest.raises(SembedError, match=r"unknown STS task 'STS17': did you mean 'STS16'\? \(known: STS12, STS13, STS14, STS15, STS16, STS-B, SICK-R\)"):
        D.load_sts("STS17", root=tmp_path)
    with pytest.raises(SembedError, match="unknown protocol 'glue'"): D.load_sts("STS12", "glue", root=tmp_path)
    with pytest.raises(SembedError, match="unknown split .validation."): D.load_sts("SICK-R", split="validation", root=tmp_path)
    with pytest.raises(SembedError, match="STS14: SentEval has only a test split"): D.load_sts("STS14", split="dev", root=tmp_path)
    with pytest.raises(SembedError, match="STS-B: the MTEB protocol has only a test split"): D.load_sts("STS-B", "mteb", "dev", root=tmp_path)
    with pytest.raises(SembedError, match=r"STS\.input\.FNWN\.txt: file not found"): D.load_sts("STS13", root=tmp_path)


def test_mteb_rows_validated(tmp_path):
    p = tmp_path / "mteb/sts13-sts/test.jsonl.gz"
    p.parent.mkdir(parents=True)
    for line, msg in [('{"sentence1": "a", "sentence2": "b", "score": "high"}', "test.jsonl.gz:2: field score: not a finite number 'high'"),
                      ('{"sentence1": "a", "sentence2": "", "score": 1}', "test.jsonl.gz:2: field sentence2: empty or missing sentence ''"),
                      ('{"sentence1": "a"', "test.jsonl.gz:2: not valid JSON")]:
        with gzip.open(p, "wt") as f: f.write('{"sentence1": "x", "sentence2": "y", "score": 3}\n' + line + "\n")
        with pytest.raises(SembedError) as e: D.load_sts("STS13", "mteb", root=tmp_path)
        assert msg in str(e.value)


def test_snli(tmp_path):
    d = tmp_path / "senteval/downstream/SNLI"
    write(d / "s1.dev", "a  man .\nthe dog\n"); write(d / "s2.dev", "a person .\na cat\n"); write(d / "labels.dev", "entailment\ncontradiction\n")
    assert D.load_snli(tmp_path, "dev") == [("a man .", "a person .", "entailment"), ("the dog", "a cat", "contradiction")]
    write(d / "labels.dev", "entailment\nmaybe\n")
    with pytest.raises(SembedError, match=r"labels\.dev:2: label: unknown value 'maybe'"): D.load_snli(tmp_path, "dev")
    write(d / "labels.dev", "entailment\n")
    with pytest.raises(SembedError, match="have 2, 2, 1 lines"): D.load_snli(tmp_path, "dev")
    with pytest.raises(SembedError, match="unknown SNLI split 'train'"): D.load_snli(tmp_path, "train")


# ---------------------------------------------------------------- the real mirror

@needs_mirror
def test_committed_manifest_matches_mirror():
    assert D.build_manifest(MIRROR) == D.load_manifest()
    assert sorted(D.load_manifest()["senteval"]) == sorted(D.senteval_files())


@needs_mirror
def test_real_sizes_on_mirror():
    n = {t: sum(len(v[2]) for v in D.load_sts(t, root=MIRROR).values()) for t in D.STS_TASKS}
    assert n == {"STS12": 3108, "STS13": 1500, "STS14": 3750, "STS15": 3000, "STS16": 1186, "STS-B": 1379, "SICK-R": 4927}
    assert len(D.load_sts("STS-B", split="dev", root=MIRROR)["dev"][2]) == 1500
    assert len(D.load_sts("SICK-R", split="dev", root=MIRROR)["dev"][2]) == 500
    sub = {s: len(v[2]) for s, v in D.load_sts("STS16", root=MIRROR).items()}
    assert sub == {"answer-answer": 254, "headlines": 249, "plagiarism": 230, "postediting": 244, "question-question": 209}
    mteb = {t: len(D.load_sts(t, "mteb", root=MIRROR / "hf")["all"][2]) for t in D.STS_TASKS}
    assert mteb == {**n, "SICK-R": 9927}
    assert (len(D.load_snli(MIRROR, "dev")), len(D.load_snli(MIRROR, "test"))) == (9842, 9824)


@needs_mirror
def test_download_from_real_mirror(tmp_path):
    out = D.download(tmp_path / "data", mirror=MIRROR)
    for rel, e in D.load_manifest()["senteval"].items():
        assert sha256_file(out / "senteval/downstream" / rel) == e["sha256"]
    n = {t: sum(len(v[2]) for v in D.load_sts(t, root=out).values()) for t in D.STS_TASKS}
    assert n["STS12"] == 3108 and n["SICK-R"] == 4927
    assert len(D.load_sts("SICK-R", "mteb", root=out)["all"][2]) == 9927
    sentences = D.load_sts("STS12", "mteb", root=out)["all"][0]
    assert sentences == D.load_sts("STS12", "mteb", root=MIRROR / "hf")["all"][0]
