"""Benchmark (not a test): issue 8's whole training-free suite on MiniLM costs at most 3x one plain evaluation.

In one run, on the same machine:
- plain: one 7-task SentEval-protocol STS evaluation of all-MiniLM-L6-v2 with mean pooling (`SentenceEncoder.encode`
  + `sembed.evaluate.evaluate_sts`, model loading included, no embedding cache);
- suite: every MiniLM row of params.yaml whose paper is one of the training-free papers (BERT-whitening, WhiteningBERT,
  Ditto, PromptBERT's template, the five whitening variants, truncation), with their baselines, built and evaluated as
  `dvc repro` does it (`sembed.experiments.build` + `evaluate`, one row after the other, each loading its model;
  selections on STS-B dev, sweeps, isotropy included), starting from an EMPTY embedding cache.
Prints each row's time, both totals and the ratio suite / plain (goal <= 3).

    python benchmarks/bench_training_free.py [--data data]
"""
import json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import sts_bench_args
PAPERS = ["bert-whitening", "whiteningbert", "ditto", "promptbert", "whitening-not-recommended", "embedding-redundancy"]


def main():
    a = sts_bench_args(__doc__, "bench_training_free")
    from sembed.core import load_params
    from sembed.encoders import SentenceEncoder
    from sembed.evaluate import evaluate_sts
    from sembed.experiments import build, evaluate, experiments

    params = load_params(ROOT / "params.yaml")
    exps = experiments(params, "smoke", a.data)
    ids = [k for k, e in exps.items() if e.paper in PAPERS and e.model == "minilm-l6"]
    ids = list(dict.fromkeys([b for k in ids if (b := exps[k].spec.baseline)] + ids))   # baselines first, each once
    if not (Path(a.data) / "train").exists(): sys.exit("bench_training_free: data/train missing (run `dvc repro` or `sembed prepare`)")

    t0 = time.perf_counter()
    enc = SentenceEncoder.from_pretrained("minilm-l6", pooler="avg")
    evaluate_sts(lambda s: enc.encode(s, batch_size=a.batch_size, progress=False), protocol="senteval", root=a.data)
    t_plain = time.perf_counter() - t0
    del enc

    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEMBED_CACHE_DIR"] = str(Path(tmp) / "cache")   # empty cache: the suite pays every forward pass
        os.environ["SEMBED_PROGRESS_SECONDS"] = "600"
        t0 = time.perf_counter()
        for k in ids:
            t = time.perf_counter()
            build(exps[k], data_root=a.data, models=Path(tmp) / "models", results=Path(tmp) / "results", batch_size=a.batch_size)
            evaluate(exps[k], data_root=a.data, models=Path(tmp) / "models", batch_size=a.batch_size)
            times[k] = time.perf_counter() - t
        t_suite = time.perf_counter() - t0
    print(f"{'row':<36}{'paper':<28}{'s':>8}")
    for k, s in times.items(): print(f"{k:<36}{exps[k].paper or '(baseline)':<28}{s:8.1f}")
    print(f"\nplain: 1 evaluation of MiniLM (mean pooling)       {t_plain:7.1f} s")
    print(f"suite: {len(ids)} rows (build + eval each, sweeps incl.) {t_suite:7.1f} s")
    print(f"ratio suite / plain = {t_suite / t_plain:.2f}   (goal <= 3)")
    print(json.dumps({"plain_s": round(t_plain, 2), "suite_s": round(t_suite, 2), "rows": len(ids),
                      "ratio": round(t_suite / t_plain, 3)}))


if __name__ == "__main__":
    main()
