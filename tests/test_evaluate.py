"""sembed.evaluate on hand-made SentEval / MTEB files with an encoder whose cosines are known exactly."""
import json, math
from pathlib import Path
import numpy as np
import pytest
import sembed.data as D
from sembed.core import SembedError
from sembed.evaluate import evaluate_sts, stsb_dev_score, make_result, save_result, correlations, aggregate


def angle_encoder(calls):
    "Sentence 'angle T' -> the unit vector at T degrees, so cos(pair) = cos(T1 - T2)."
    def encode(sents):
        calls.append(list(sents))
        t = np.radians([float(s.split()[1]) for s in sents])
        return np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32)
    return encode


def write(p, text):
    p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text)


# STS13 by hand (cosines in brackets):
#   FNWN      (0,0)[1] gold 5, (0,60)[.5] gold 3, (0,90)[0] gold 1      -> spearman 100, pearson 100, n 3
#   headlines (0,60)[.5] gold 1, (0,90)[0] gold 4, unscored (45,45)     -> spearman -100, pearson -100, n 2
#   OnWN      (0,0)[1] gold 4, (0,90)[0] gold 0, (30,90)[.5] gold 2     -> spearman 100, pearson 100, n 3
STS13 = {"FNWN": ([(0, 0), (0, 60), (0, 90)], ["5", "3", "1"]),
         "headlines": ([(0, 60), (0, 90), (45, 45)], ["1", "4", ""]),
         "OnWN": ([(0, 0), (0, 90), (30, 90)], ["4", "0", "2"])}


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "senteval/downstream/STS/STS13-en-test"
    for sub, (pairs, gold) in STS13.items():
        write(d / f"STS.input.{sub}.txt", "".join(f"angle {a}\tangle  {b}\n" for a, b in pairs))
        write(d / f"STS.gs.{sub}.txt", "".join(g + "\n" for g in gold))
    b = tmp_path / "senteval/downstream/STS/STSBenchmark"
    write(b / "sts-dev.csv", "g\tf\ty\t1\t5\tangle 0\tangle 10\ng\tf\ty\t2\t1\tangle 0\tangle 80\ng\tf\ty\t3\t3\tangle 0\tangle 50\n")
    write(b / "sts-test.csv", "g\tf\ty\t1\t1\tangle 0\tangle 10\ng\tf\ty\t2\t5\tangle 0\tangle 80\n")
    s = tmp_path / "senteval/downstream/SICK"
    head = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
    write(s / "SICK_trial.txt", head + "1\tangle 0\tangle 20\t4\tN\n2\tangle 0\tangle 70\t2\tN\n")
    write(s / "SICK_test_annotated.txt", head + "1\tangle 0\tangle 20\t4\tN\n2\tangle 0\tangle 70\t2\tN\n3\tangle 5\tangle 5\t1\tN\n")
    D.write_jsonl_gz(tmp_path / "mteb/sts13-sts/test.jsonl.gz",
                     [{"sentence1": f"angle {a}", "sentence2": f"angle {b}", "score": float(g)}
                      for pairs, gold in STS13.values() for (a, b), g in zip(pairs, gold) if g])
    return tmp_path


def hand_spearman(x, y):
    "Spearman by hand: Pearson of average ranks (no scipy)."
    def ranks(v):
        v = np.asarray(v, float); order = np.argsort(v, kind="stable"); r = np.empty(len(v))
        r[order] = np.arange(1, len(v) + 1)
        for val in np.unique(v): r[v == val] = r[v == val].mean()
        return r
    return hand_pearson(ranks(x), ranks(y))


def hand_pearson(x, y):
    x, y = np.asarray(x, float) - np.mean(x), np.asarray(y, float) - np.mean(y)
    return 100 * (x @ y) / math.sqrt((x @ x) * (y @ y))


def test_all_vs_wmean_by_hand(root):
    calls = []
    r = evaluate_sts(angle_encoder(calls), tasks=["STS13"], root=root)
    t = r["tasks"]["STS13"]
    assert {k: (round(v["spearman"], 6), round(v["pearson"], 6), v["n"]) for k, v in t["subsets"].items()} == \
        {"FNWN": (100, 100, 3), "headlines": (-100, -100, 2), "OnWN": (100, 100, 3)}
    assert t["spearman_wmean"] == pytest.approx((3 * 100 - 2 * 100 + 3 * 100) / 8)  # 50
    assert t["pearson_wmean"] == pytest.approx(50)
    pred = [1, .5, 0, .5, 0, 1, 0, .5]; gold = [5, 3, 1, 1, 4, 4, 0, 2]  # the 8 scored pairs, concatenated
    assert t["n"] == 8
    assert t["spearman"] == pytest.approx(hand_spearman(pred, gold), abs=1e-9)
    assert t["pearson"] == pytest.approx(hand_pearson(pred, gold), abs=1e-6)
    assert abs(t["spearman"] - t["spearman_wmean"]) > 1  # the two aggregations really differ here
    assert r["avg"] == t["spearman"] and r["protocol"] == "senteval" and r["split"] == "test"
    # one encoder call, unique sentences only, the unscored pair's sentence never encoded
    assert len(calls) == 1 and sorted(calls[0]) == sorted({"angle 0", "angle 60", "angle 90", "angle 30"})


def test_stsb_sick_splits_and_single_call(root):
    calls = []
    r = evaluate_sts(angle_encoder(calls), tasks=["STS13", "STS-B", "SICK-R"], root=root)
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0]))
    assert r["tasks"]["STS-B"] == pytest.approx({"spearman": -100.0, "pearson": -100.0, "n": 2})
    # SICK test: cos 20deg > cos 70deg with gold 4 > 2, identical pair (cos 1) with gold 1
    assert r["tasks"]["SICK-R"]["n"] == 3
    assert r["tasks"]["SICK-R"]["spearman"] == pytest.approx(hand_spearman([np.cos(np.radians(20)), np.cos(np.radians(70)), 1], [4, 2, 1]))
    assert r["avg"] == pytest.approx(np.mean([r["tasks"][t]["spearman"] for t in ("STS13", "STS-B", "SICK-R")]))
    dev = evaluate_sts(angle_encoder([]), split="dev", root=root)
    assert list(dev["tasks"]) == ["STS-B", "SICK-R"] and dev["split"] == "dev"
    assert dev["tasks"]["STS-B"]["n"] == 3 and dev["tasks"]["STS-B"]["spearman"] == pytest.approx(100.0)
    assert dev["tasks"]["SICK-R"] == pytest.approx({"spearman": 100.0, "pearson": 100.0, "n": 2})
    assert stsb_dev_score(angle_encoder([]), root=root) == pytest.approx(100.0)


def test_mteb_protocol_is_one_correlation(root):
    r = evaluate_sts(angle_encoder([]), protocol="mteb", tasks=["STS13"], root=root)
    t = r["tasks"]["STS13"]
    assert set(t) == {"spearman", "pearson", "n"} and t["n"] == 8
    assert t["spearman"] == pytest.approx(hand_spearman([1, .5, 0, .5, 0, 1, 0, .5], [5, 3, 1, 1, 4, 4, 0, 2]))


def test_zero_vectors_score_zero_like_senteval(root):
    enc = lambda s: np.zeros((len(s), 3), np.float32) + np.array([[float(x.split()[1]) > 0, 0, 0] for x in s])
    r = evaluate_sts(enc, tasks=["STS-B"], split="dev", root=root)  # 'angle 0' -> zero vector -> cosine 0 everywhere
    assert math.isnan(r["tasks"]["STS-B"]["spearman"])  # constant predictions have no rank correlation


def test_errors(root):
    with pytest.raises(SembedError, match=r"encode: returned an array of shape \(3, 2\), expected \(4, hidden_size\)"):
        evaluate_sts(lambda s: np.zeros((len(s) - 1, 2)), tasks=["STS13"], root=root)
    with pytest.raises(SembedError, match="unknown protocol 'glue'"): evaluate_sts(angle_encoder([]), protocol="glue", root=root)
    with pytest.raises(SembedError, match="unknown STS task 'STSX'"): evaluate_sts(angle_encoder([]), tasks=["STSX"], root=root)
    with pytest.raises(SembedError, match=r"STS12-en-test/STS\.input\.MSRpar\.txt: file not found"):
        evaluate_sts(angle_encoder([]), tasks=["STS12"], root=root)
    write(root / "senteval/downstream/STS/STS13-en-test/STS.gs.OnWN.txt", "4\nzero\n2\n")
    with pytest.raises(SembedError, match=r"STS\.gs\.OnWN\.txt:2: score: not a number 'zero'"):
        evaluate_sts(angle_encoder([]), tasks=["STS13"], root=root)
    with pytest.raises(SembedError, match="need >= 2 paired values"): correlations([1], [1])


def test_result_file(root, tmp_path):
    scores = evaluate_sts(angle_encoder([]), tasks=["STS13", "STS-B"], root=root)
    res = make_result(scores, "angles", "none", seed=7)
    assert list(res) == ["protocol", "model", "pooler", "split", "tasks", "avg", "provenance"]
    assert res["provenance"]["seed"] == 7 and "code" in res["provenance"] and "git_commit" not in res["provenance"]   # the commit: the run record's
    p = save_result(tmp_path / "out/r.json", res)
    back = json.loads(Path(p).read_text())
    assert back["tasks"]["STS13"]["spearman"] == scores["tasks"]["STS13"]["spearman"]  # full float, no rounding
    assert back["tasks"]["STS13"]["subsets"]["headlines"]["n"] == 2


def test_aggregate_weights_by_subset_size():
    r = aggregate({"A": ([1, 2, 3, 4], [1, 2, 3, 4]), "B": ([1, 2], [2, 1])})
    assert r["spearman_wmean"] == pytest.approx((4 * 100 - 2 * 100) / 6)

# External truth (MiniLM vs MTEB's published scores) is tested through the real CLI in tests/test_external_truth.py.
