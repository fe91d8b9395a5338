"""Benchmark (not a test): issue 8's whole training-free suite on MiniLM costs at most 3x one plain evaluation.

In one run, on the same machine:
- plain: one 7-task SentEval-protocol STS evaluation of all-MiniLM-L6-v2 with mean pooling (`SentenceEncoder.encode`
  + `sembed.evaluate.evaluate_sts`, model loading included, no embedding cache);
- suite: every training-free MiniLM row of params.yaml whose paper is one of issue 8's papers (BERT-whitening,
  WhiteningBERT, Ditto, PromptBERT's template, the five whitening variants, truncation), with their baselines (not a
  trained row of these papers, i.e. unsupervised PromptBERT, nor its "before training" row), built and evaluated as
  `dvc repro` does it (`sembed.experiments.build` + `evaluate`, one row after the other, each loading its model;
  selections on STS-B dev, sweeps, isotropy included), starting from an EMPTY embedding cache.
Prints each row's time, both totals, the ratio suite / plain (goal <= 3) and the token floor: the ratio no exact
implementation can go below (the distinct forward passes the rows need, in tokens, over the plain pass's).

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
    # issue 8's suite is training-free: a trained row of these papers (unsupervised PromptBERT, issue 9) and its
    # "before training" row are not part of it
    trained = {k for k in ids if exps[k].kind == "train"}
    ids = [k for k in ids if k not in trained and k not in {exps[t].spec.baseline for t in trained}]
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
    floor, parts = token_floor([exps[k] for k in ids], a.data)
    print(f"token floor = {floor:.2f}: the forward passes the suite's rows need, each run once, in tokens over the plain "
          f"pass's ({' + '.join(f'{n} {r:.2f}' for n, r in parts.items())}); no sweep, fit or scoring counted")
    print(json.dumps({"plain_s": round(t_plain, 2), "suite_s": round(t_suite, 2), "rows": len(ids),
                      "ratio": round(t_suite / t_plain, 3), "token_floor": round(floor, 3)}))


def token_floor(rows, data):
    """A lower bound on the ratio from the data alone: the tokens of each distinct forward pass the rows need, over the
    plain evaluation's (the distinct sentences of the 7 STS test sets). An encoder's cost grows about linearly with the
    tokens at these lengths (14 tokens on average), so no implementation that computes the same vectors costs less."""
    from sembed.data import STS_TASKS, load_sts
    from sembed.encoders import SentenceEncoder
    from sembed.methods import get_corpus, read_corpus
    enc = SentenceEncoder.from_pretrained("minilm-l6"); tok = enc.tokenizer
    count = lambda xs: sum(len(x) for x in tok(list(dict.fromkeys(xs)), truncation=True, max_length=enc.max_length)["input_ids"])
    sts = [x for t in STS_TASKS for a, b, _ in load_sts(t, root=data).values() for x in (*a, *b)]
    plain = count(sts)
    parts = {"STS test": 1.0}
    for corpus in dict.fromkeys(e.data for e in rows if e.kind == "transform" and e.data):   # fitted on a corpus
        c = get_corpus(corpus)
        parts[corpus] = count(read_corpus(c.kind, Path(data) / "train" / c.file)) / plain
    from sembed.promptbert import prompt_inputs
    for tp in dict.fromkeys(e.config.template for e in rows if e.method.name == "promptbert"):   # a template around each sentence
        pi = prompt_inputs(tok, tp, enc.max_length)   # the method's own inputs: [CLS] prefix sentence suffix [SEP]
        ids = tok(list(dict.fromkeys(sts)), add_special_tokens=False)["input_ids"]
        parts[f"template {tp!r}"] = sum(len(pi.sentence(x)[0]) for x in ids) / plain
    if any(v is None for e in rows for k, v in e.settings.items() if k in ("layer", "head", "layers")):   # chosen on STS-B dev
        d1, d2, _ = load_sts("STS-B", split="dev", root=data)["dev"]
        parts["STS-B dev"] = count([*d1, *d2]) / plain
    return sum(parts.values()), parts


if __name__ == "__main__":
    main()
