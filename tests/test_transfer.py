"""sembed.transfer: SentEval's transfer-task readers and classifiers on hand-made files and synthetic features."""
import os
from pathlib import Path
import numpy as np
import pytest
import sembed.transfer as T
from sembed.core import SembedError

HEADER = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"


def blobs(n=100, d=5, gap=3.0, seed=0):
    "Two well-separated Gaussian blobs: a linearly separable binary task."
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(-gap, 1, (n, d)), rng.normal(gap, 1, (n, d))]
    return X, np.r_[np.zeros(n, int), np.ones(n, int)]


def bow_encoder(root, calls=None):
    "A bag-of-words encoder over the toy tasks' vocabulary."
    vocab = sorted({w for t in T.TRANSFER_TASKS for split in T.load_transfer(t, root).values()
                    for sents in split[:-1] for s in sents for w in s.split()})
    def encode(sents):
        if calls is not None: calls.append(list(sents))
        return np.array([[s.split().count(w) for w in vocab] for s in sents], dtype=np.float32)
    return encode


# ---------------------------------------------------------------- classifiers

def test_separable_task_scores_100():
    X, y = blobs()
    r = T.inner_kfold(X, y, kfold=3, n_jobs=1)
    assert (r["acc"], r["devacc"], r["fits"], r["not_converged"]) == (100.0, 100.0, 3 * 6 * 3 + 3, 0)
    assert len(r["C"]) == 3 and set(r["C"]) <= set(T.C_GRID_INNER)
    k = T.kfold_eval(X[::2], y[::2], X[1::2], y[1::2], kfold=3, n_jobs=1)
    assert k["acc"] == 100.0 and k["fits"] == 7 * 3 + 1 and k["C"] in T.C_GRID_KFOLD and list(k["yhat"]) == list(y[1::2])
    s = T.split_eval(X[::3], y[::3], X[1::3], y[1::3], X[2::3], y[2::3], n_jobs=1)
    assert (s["acc"], s["devacc"], s["fits"]) == (100.0, 100.0, 6) and s["C"] == T.C_GRID_INNER[0]  # first maximum wins


def test_shuffled_labels_score_near_chance():
    rng = np.random.default_rng(1)
    X, y = blobs(n=150, seed=1)
    y = rng.permutation(y)
    r = T.inner_kfold(X, y, kfold=3, n_jobs=1)
    assert 40 <= r["acc"] <= 60 and 40 <= r["devacc"] <= 60, r
    k = T.kfold_eval(X[:200], y[:200], X[200:], y[200:], kfold=3, n_jobs=1)
    assert 40 <= k["acc"] <= 60, k


def test_folds_are_stratified_and_seeded():
    y = np.array([0] * 40 + [1] * 30 + [2] * 20)
    folds = T.stratified_folds(y, 10, 1111)
    assert len(folds) == 10
    for tr, te in folds:
        assert [int((y[te] == c).sum()) for c in (0, 1, 2)] == [4, 3, 2]  # the class proportions of the whole
        assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(y)))
    same = T.stratified_folds(y, 10, 1111)
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(folds, same))
    other = T.stratified_folds(y, 10, 42)
    assert any(not np.array_equal(b, d) for (_, b), (_, d) in zip(folds, other))
    with pytest.raises(SembedError, match="class 2 has 2 examples, fewer than kfold=3"):
        T.stratified_folds([0] * 5 + [1] * 5 + [2] * 2, 3)
    with pytest.raises(SembedError, match="need at least 2 classes"): T.stratified_folds([1] * 20, 3)
    with pytest.raises(SembedError, match="kfold: bad value 1"): T.stratified_folds(y, 1)


def test_mrpc_features_are_sentevals_two_blocks():
    u = np.array([[1.0, 2.0], [0.0, -1.0]])
    v = np.array([[3.0, -1.0], [2.0, 2.0]])
    #                 |u - v|      u * v
    expected = [[2.0, 3.0, 3.0, -2.0], [2.0, 3.0, 0.0, -2.0]]
    assert T.mrpc_features(u, v).tolist() == expected
    assert np.array_equal(T.mrpc_features(u, v), np.c_[np.abs(u - v), u * v])  # SentEval's mrpc.py expression
    assert T.mrpc_features(u.astype(np.float32), v.astype(np.float32)).dtype == np.float32
    with pytest.raises(SembedError, match=r"shapes \(2, 2\) and \(2, 3\)"): T.mrpc_features(u, np.ones((2, 3)))


def test_deterministic_and_independent_of_n_jobs(tmp_path):
    X, y = blobs(n=60, gap=0.4, seed=3)  # overlapping: accuracies that depend on every detail
    a = T.inner_kfold(X, y, kfold=3, n_jobs=1)
    assert a == T.inner_kfold(X, y, kfold=3, n_jobs=1) == T.inner_kfold(X, y, kfold=3, n_jobs=2)
    assert a != T.inner_kfold(X, y, kfold=3, seed=7, n_jobs=1)  # another seed, other folds
    root = T.write_toy_transfer(tmp_path / "toy", n=30)
    enc = bow_encoder(root)
    kw = dict(tasks=["CR", "MRPC"], root=root, kfold=3, progress=False)
    one = T.evaluate_transfer(enc, n_jobs=1, **kw)
    assert one == T.evaluate_transfer(enc, n_jobs=1, **kw) == T.evaluate_transfer(enc, n_jobs=2, **kw)


def test_evaluate_transfer_result(tmp_path, monkeypatch):
    root = T.write_toy_transfer(tmp_path / "toy", n=30)
    calls = []
    monkeypatch.setenv(T.JOBS_ENV, "1")
    res = T.evaluate_transfer(bow_encoder(root, calls), root=root, kfold=3, progress=False)
    assert (res["protocol"], res["split"], list(res["tasks"])) == ("transfer", "test", T.TRANSFER_TASKS)
    assert len(calls) == 7 and all(len(c) == len(set(c)) for c in calls)  # one call per task, distinct sentences
    assert res["avg"] == pytest.approx(np.mean([r["acc"] for r in res["tasks"].values()]))
    for t, r in res["tasks"].items():
        assert {"acc", "devacc", "n", "ntrain", "classifier", "not_converged", "fits", "C"} <= set(r), t
        assert 0 <= r["acc"] <= 100 and r["classifier"] == "sklearn-LogReg"
    assert res["tasks"]["SST2"]["ndev"] == 15 and (res["tasks"]["MRPC"]["n"], res["tasks"]["MRPC"]["ntrain"]) == (15, 30)
    assert 0 <= res["tasks"]["MRPC"]["f1"] <= 100 and "f1" not in res["tasks"]["SST2"]
    assert res["tasks"]["MR"]["fits"] == 3 * 6 * 3 + 3 and res["tasks"]["TREC"]["fits"] == 7 * 3 + 1


def test_evaluate_transfer_fails_early(tmp_path, monkeypatch):
    root = T.write_toy_transfer(tmp_path / "toy", n=20)
    calls = []
    enc = bow_encoder(root, calls)
    cases = [(dict(tasks=["MR", "SST5"]), "unknown transfer task 'SST5': did you mean 'SST2'? (known: MR, CR, SUBJ, MPQA, SST2, TREC, MRPC)"),
             (dict(tasks=[]), "tasks: empty list"),
             (dict(tasks=["MR", "MR"]), "'MR' listed twice"),
             (dict(kfold=1), "kfold: bad value 1"),
             (dict(n_jobs=0), "n_jobs: bad value 0"),
             (dict(tasks=["CR", "MR"], root=tmp_path / "none"), "none/senteval/downstream/CR/custrev.pos: file not found")]
    for kw, msg in cases:
        with pytest.raises(SembedError) as e: T.evaluate_transfer(enc, **{"root": root, "progress": False, **kw})
        assert msg in str(e.value)
    (root / "senteval/downstream/MRPC/msr_paraphrase_test.txt").write_text(HEADER + "1\t1\t2\ta\n")
    with pytest.raises(SembedError, match="msr_paraphrase_test.txt:2:"): T.evaluate_transfer(enc, root=root, progress=False)
    assert calls == []  # every failure came before encoding
    monkeypatch.setenv(T.JOBS_ENV, "many")
    with pytest.raises(SembedError, match=r"\$SEMBED_JOBS: bad value 'many'"): T.evaluate_transfer(enc, tasks=["CR"], root=root)
    monkeypatch.setenv(T.JOBS_ENV, "1")
    with pytest.raises(SembedError, match=r"encode: returned an array of shape \(3, 2\) for CR"):
        T.evaluate_transfer(lambda s: np.zeros((3, 2)), tasks=["CR"], root=root, progress=False)
    with pytest.raises(SembedError, match="encode: returned NaN or infinite values for CR"):
        T.evaluate_transfer(lambda s: np.full((len(s), 2), np.nan), tasks=["CR"], root=root, progress=False)


# ---------------------------------------------------------------- readers

def test_loaders_on_toy_layout(tmp_path):
    root = T.write_toy_transfer(tmp_path, n=20)
    d = T.load_transfer("SUBJ", root)
    sents, y = d["all"]
    assert list(d) == ["all"] and len(sents) == 20 and y.tolist() == [1] * 10 + [0] * 10
    objective = (root / "senteval/downstream/SUBJ/subj.objective").read_text().splitlines()
    assert sents[:10] == [" ".join(l.split()) for l in objective]  # subj.objective is label 1, as in SentEval
    cr, ycr = T.load_transfer("CR", root)["all"]
    assert len(cr) == 21 and cr[10] == "" and ycr[10] == 1  # custrev.pos's trailing blank line is an example
    assert T.load_transfer("MR", root)["all"][0][0].endswith("na\xefve")  # latin-1
    sst = T.load_transfer("SST2", root)
    assert list(sst) == ["train", "dev", "test"] and [len(v[1]) for v in sst.values()] == [20, 10, 10]
    trec = T.load_transfer("TREC", root)
    assert sorted(set(trec["train"][1].tolist())) == list(range(6)) and trec["train"][0][0].endswith("?")
    a, b, ym = T.load_transfer("MRPC", root)["train"]
    assert len(a) == len(b) == len(ym) == 20 and not a[0].startswith("\ufeff") and set(ym.tolist()) == {0, 1}


def write(root, rel, text):
    p = root / "senteval/downstream" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize("task,rel,text,where,message", [
    ("SST2", "SST/binary/sentiment-dev", "a good film\t1\na bad film 0\n", ":2:", "expected 'sentence<TAB>label', got 1 tab-separated column(s)"),
    ("SST2", "SST/binary/sentiment-test", "a good film\t1\nbad\t2\n", ":2:", "label: expected 0 or 1, got '2'"),
    ("SST2", "SST/binary/sentiment-train", "\t1\n", ":1:", "expected 'sentence<TAB>label', got 1 tab-separated column(s): '1'"),
    ("TREC", "TREC/TREC_10.label", "NUM:dist How far ?\nHow far is it ?\n", ":2:", "expected 'CLASS:fine question ...'"),
    ("TREC", "TREC/train_5500.label", "FOO:bar Why ?\n", ":1:", "class: unknown value 'FOO' (known: ABBR, DESC, ENTY, HUM, LOC, NUM)"),
    ("TREC", "TREC/train_5500.label", "NUM:dist\n", ":1:", "expected 'CLASS:fine question ...'"),
    ("MRPC", "MRPC/msr_paraphrase_train.txt", HEADER + "1\t1\t2\ta b\tc d\n0\t3\t4\tonly one\n", ":3:", "expected 5 tab-separated columns"),
    ("MRPC", "MRPC/msr_paraphrase_test.txt", HEADER + "3\t1\t2\ta\tb\n", ":2:", "Quality: expected 0 or 1, got '3'"),
    ("MRPC", "MRPC/msr_paraphrase_test.txt", "1\t1\t2\ta\tb\n", ":1:", "expected the header line"),
    ("MRPC", "MRPC/msr_paraphrase_test.txt", HEADER + "1\t1\t2\ta\tb\n0\t3\t4\t \tb\n", ":3:", "empty sentence"),
])
def test_malformed_lines_name_file_and_line(tmp_path, task, rel, text, where, message):
    root = T.write_toy_transfer(tmp_path, n=20)
    p = write(root, rel, text)
    with pytest.raises(SembedError) as e: T.load_transfer(task, root)
    msg = str(e.value)
    assert msg.startswith(f"{p}{where} ") and message in msg and "\n" not in msg, msg


@pytest.mark.parametrize("task,rel,text,message", [
    ("MPQA", "MPQA/mpqa.neg", "", "no examples (empty file)"),
    ("MR", "MR/rt-polarity.pos", "\n \n", "no examples (empty file)"),
    ("SST2", "SST/binary/sentiment-dev", "", "no examples (empty file)"),
    ("MRPC", "MRPC/msr_paraphrase_test.txt", HEADER, "no examples after the header line"),
    ("TREC", "TREC/TREC_10.label", None, "file not found"),
])
def test_empty_or_missing_files(tmp_path, task, rel, text, message):
    root = T.write_toy_transfer(tmp_path, n=20)
    p = root / "senteval/downstream" / rel
    if text is None: p.unlink()
    else: write(root, rel, text)
    with pytest.raises(SembedError) as e: T.load_transfer(task, root)
    assert str(e.value).startswith(f"{p}: ") and message in str(e.value)


def test_invalid_utf8_is_named(tmp_path):
    root = T.write_toy_transfer(tmp_path, n=20)
    p = root / "senteval/downstream/SST/binary/sentiment-test"
    p.write_bytes(b"caf\xe9\t1\n")
    with pytest.raises(SembedError, match=r"sentiment-test: not valid utf-8"): T.load_transfer("SST2", root)


# ---------------------------------------------------------------- the real data

@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SEMBED_MIRROR"), reason="SEMBED_MIRROR is not set")
def test_real_tasks_from_mirror_download(tmp_path):
    from sembed.data import download
    root = download(out=tmp_path / "data", only="senteval")
    n = {t: {s: len(v[-1]) for s, v in T.load_transfer(t, root).items()} for t in T.TRANSFER_TASKS}
    assert n == {"MR": {"all": 10662}, "CR": {"all": 3775}, "SUBJ": {"all": 10000}, "MPQA": {"all": 10606},
                 "SST2": {"train": 67349, "dev": 872, "test": 1821}, "TREC": {"train": 5452, "test": 500},
                 "MRPC": {"train": 4076, "test": 1725}}
    assert [int(c) for c in np.bincount(T.load_transfer("SUBJ", root)["all"][1])] == [5000, 5000]
    assert np.bincount(T.load_transfer("TREC", root)["train"][1]).tolist() == [86, 1162, 1250, 1223, 835, 896]
    a, b, y = T.load_transfer("MRPC", root)["test"]
    assert (int(y.sum()), len(y)) == (1147, 1725) and not a[0].startswith("\ufeff")
