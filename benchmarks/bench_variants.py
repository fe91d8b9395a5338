"""Benchmark (not a test): K training-free rows of one model cost about one evaluation.

In one run, on the same machine:
- plain: one 7-task SentEval-protocol STS evaluation of all-MiniLM-L6-v2 with mean pooling
  (`SentenceEncoder.encode` + `sembed.evaluate.evaluate_sts`, model loading included);
- K variants: K rows of the experiment matrix (method `pooler`: avg, cls, cls_before_pooler, avg_first_last,
  avg_top2), each built and evaluated as `dvc repro` does it (`sembed.experiments.build` + `evaluate`, one after
  the other, each loading its model), starting from an EMPTY embedding cache: the first row's forward pass
  computes every pooler, the other rows read it.
Prints both wall times, the ratio K-variants / plain (goal <= 1.5) and checks the avg row's scores equal the plain ones.

    python benchmarks/bench_variants.py [--data data]
"""
import json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import sts_bench_args
POOLERS = ["avg", "cls", "cls_before_pooler", "avg_first_last", "avg_top2"]


def main():
    a = sts_bench_args(__doc__, "bench_variants")
    from sembed.data import STS_TASKS
    from sembed.encoders import SentenceEncoder
    from sembed.evaluate import evaluate_sts
    from sembed.experiments import build, evaluate, experiment

    t0 = time.perf_counter()
    enc = SentenceEncoder.from_pretrained("minilm-l6", pooler="avg")
    plain = evaluate_sts(lambda s: enc.encode(s, batch_size=a.batch_size, progress=False), protocol="senteval", root=a.data)
    t_plain = time.perf_counter() - t0

    params = {"seed": 42, "scale": "smoke", "papers": [], "experiments": {
        f"bench-{p}": {"method": "pooler", "scales": {"smoke": {"model": "minilm-l6", "pooler": p}}} for p in POOLERS}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEMBED_CACHE_DIR"] = str(Path(tmp) / "cache")   # empty cache: the first row pays the forward pass
        t0 = time.perf_counter()
        rows = {}
        for p in POOLERS:
            e = experiment(params, f"bench-{p}")
            build(e, data_root=a.data, models=Path(tmp) / "models", results=Path(tmp) / "results", batch_size=a.batch_size)
            rows[p] = evaluate(e, data_root=a.data, models=Path(tmp) / "models", batch_size=a.batch_size)
        t_var = time.perf_counter() - t0
    same = all(rows["avg"]["tasks"][t]["spearman"] == plain["tasks"][t]["spearman"] for t in STS_TASKS)
    print(f"{'row':<20}{'avg':>8}")
    for p, r in rows.items(): print(f"{p:<20}{r['avg']:8.2f}")
    print(f"\nplain: 1 evaluation (avg)             {t_plain:7.1f} s")
    print(f"K={len(POOLERS)} pooler rows (build + eval each) {t_var:7.1f} s")
    print(f"ratio K rows / plain = {t_var / t_plain:.2f}   (goal <= 1.5)")
    print(f"avg row scores identical to the plain evaluation: {same}")
    print(json.dumps({"plain_s": round(t_plain, 2), "variants_s": round(t_var, 2), "k": len(POOLERS),
                      "ratio": round(t_var / t_plain, 3), "avg_identical": same}))
    if not same: sys.exit(1)


if __name__ == "__main__":
    main()
