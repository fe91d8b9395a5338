"""BERT-whitening rows (sembed.whitening): bad settings are refused before any work with one line and nothing
written; the pipeline's MiniLM rows equal an independent implementation of the paper's recipe."""
import json, sys
from pathlib import Path
import numpy as np, pytest, yaml
from conftest import ROOT, run_sembed, error_lines

sys.path.insert(0, str(Path(__file__).parent))


def _project(tmp_path, settings, method="bert-whitening", n_sentences=200):
    "A tiny model (hidden size 32), a corpus of `n_sentences` distinct sentences and params with one whitening row 'w'."
    from _tiny import tiny_encoder
    model = tmp_path / "tiny"
    tiny_encoder("avg").save_pretrained(model)
    rng = np.random.default_rng(0)
    words = "man woman dog cat plays runs sleeps eats the a guitar ball park house red old young city sea".split()
    sents = list(dict.fromkeys(" ".join(rng.choice(words, size=6)) + f" {i} ." for i in range(n_sentences)))
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "snli-devtest-sentences.txt").write_text("\n".join(sents) + "\n")
    s = {"model": str(model), **settings}
    if method == "bert-whitening": s["data"] = "snli-devtest-sentences"
    params = {"seed": 1, "scale": "smoke", "papers": ["bert-whitening"],
              "experiments": {"w": {"paper": "bert-whitening", "method": method, "scales": {"smoke": s}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _train(p):
    return run_sembed("train", "--experiment", "w", "--params", p / "params.yaml", "--data", p / "data",
                      "--out", p / "models" / "w", "--results", p / "results", cwd=p)


def test_corpus_whitening_row_builds(tmp_path):
    p = _project(tmp_path, {"pooler": "avg", "k": 8})
    r = _train(p)
    assert r.returncode == 0, r.stderr[-2000:]
    st = np.load(p / "models" / "w" / "transform.npz")
    assert st["W"].shape == (32, 8) and st["mu"].shape == (1, 32)


@pytest.mark.parametrize("method,settings,n,msg", [   # the other bad settings: nbs/17_bert-whitening.ipynb (in-process)
    ("bert-whitening", {"k": 33}, 200, "k: bad value 33 (an integer from 1 to the dimension 32)"),
    ("bert-whitening-target", {"k": -1}, 200, "k: bad value -1"),
    ("bert-whitening", {"variant": "pcaa"}, 200, "variant: unknown value 'pcaa'"),
    ("bert-whitening", {}, 20, "fitted on 20 vectors of dimension 32"),
])
def test_bad_whitening_settings_refused(tmp_path, method, settings, n, msg):
    p = _project(tmp_path, settings, method, n)
    r = _train(p)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = error_lines(r)
    assert len(lines) == 1 and msg in lines[0], r.stderr[-2000:]
    assert not (p / "models" / "w").exists() and not (p / "results" / "w.train.json").exists()


def test_target_rows_refuse_geometry_but_take_transfer(tmp_path):
    "A row fitted on each evaluated task has no single space for alignment / uniformity; on the transfer tasks it is "
    "fitted on each transfer task's sentences (sembed.transfer's adapt), so it may be listed there."
    p = _project(tmp_path, {}, "bert-whitening-target")
    params = yaml.safe_load((p / "params.yaml").read_text())
    params["experiments"]["w"]["geometry"] = True
    (p / "params.yaml").write_text(yaml.safe_dump(params))
    r = _train(p)
    assert r.returncode == 2 and "fitted on each evaluated task" in "".join(error_lines(r)), r.stderr[-2000:]
    params["experiments"]["w"]["geometry"] = False
    params["transfer"] = {"experiments": ["w"]}
    (p / "params.yaml").write_text(yaml.safe_dump(params))
    r = _train(p)
    assert r.returncode == 0, r.stderr[-2000:]


# ---- the pipeline's rows against the paper's recipe written out independently (numpy, as the authors' code does it)

def _su_kernel_bias(vecs, k=None):
    """BERT-whitening's compute_kernel_bias: W = U diag(1/sqrt(s)) from the SVD of np.cov, bias = -mean; directions
    with eigenvalue <= H * eps * s_max (no variance: MiniLM's LayerNorm output) left out, as the spec says."""
    mu = vecs.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(np.cov(vecs.T))
    keep = s > vecs.shape[1] * np.finfo(np.float64).eps * s[0]
    u, s = u[:, keep], s[keep]
    W = np.dot(u, np.diag(1 / np.sqrt(s)))
    return (W[:, :k] if k else W), -mu


def _spearman_all(pairs):
    "SentEval 'all': one Spearman x100 over the concatenated subsets of a task."
    from scipy.stats import spearmanr
    pred = np.concatenate([p for p, _ in pairs]); gold = np.concatenate([g for _, g in pairs])
    return 100 * spearmanr(pred, gold)[0]


@pytest.mark.slow
def test_minilm_avg_rows_equal_the_recipe():
    "Acceptance: whitening-{nli,target}-avg[-256] equal (x - mu) W[:, :k] computed independently, within 0.01."
    from test_pipeline import dvc
    assert dvc("repro").returncode == 0
    from sembed.data import STS_TASKS, load_sts
    from sembed.encoders import SentenceEncoder, cached_encode
    from sembed.methods import read_sentences
    data = ROOT / "data"
    enc = SentenceEncoder.from_pretrained("minilm-l6")
    sts = {t: load_sts(t, "senteval", "test", data) for t in STS_TASKS}
    index = {}
    for subsets in sts.values():
        for s1, s2, _ in subsets.values():
            for s in s1 + s2: index.setdefault(s, len(index))
    raw = lambda sents: cached_encode(enc, sents, ["avg"], batch_size=64, progress=False, normalize=False)["avg"].astype(np.float64)
    E = raw(list(index))
    nli = raw(read_sentences(data / "train" / "snli-devtest-sentences.txt"))
    for stats in ("nli", "target"):
        for k in (None, 256):
            rid = f"whitening-{stats}-avg" + (f"-{k}" if k else "")
            ours = json.loads((ROOT / "results" / f"{rid}.json").read_text())
            for t, subsets in sts.items():
                rows = lambda ss: E[[index[s] for s in ss]]
                if stats == "nli": W, b = _su_kernel_bias(nli, k)
                else: W, b = _su_kernel_bias(np.concatenate([rows(s1 + s2) for s1, s2, _ in subsets.values()]), k)
                def cos(s1, s2):
                    a = (rows(s1) + b) @ W; c = (rows(s2) + b) @ W
                    return (a * c).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(c, axis=1)
                ref = _spearman_all([(cos(s1, s2), np.asarray(g)) for s1, s2, g in subsets.values()])
                assert abs(ours["tasks"][t]["spearman"] - ref) <= 0.01, (rid, t, ours["tasks"][t]["spearman"], ref)
