"""Benchmark: sembed's full 7-task STS evaluation (MTEB protocol) of all-MiniLM-L6-v2 vs the peer,
sentence-transformers' `SentenceTransformer.encode` of the same pairs (each task's sentence1 and
sentence2 lists, as MTEB encodes them, default batch size 32), on the same machine in one run.

Prints both wall times (model loading excluded on both sides, reported separately), the ratio
sembed/peer (target < 1.0, goal <= 0.5) and the per-task score difference (must be <= 0.01).
Not a test: timings depend on the machine. Usage: python benchmarks/bench_eval.py [--data data]
"""
import argparse, json, os, platform, time
import numpy as np
import torch
from scipy.stats import spearmanr


def peer_eval(model, tasks, batch_size):
    scores = {}
    for name, (s1, s2, gold) in tasks.items():
        e1 = model.encode(s1, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
        e2 = model.encode(s2, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
        cos = (e1 * e2).sum(1) / (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1))
        scores[name] = 100 * spearmanr(cos, gold).correlation
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data"); ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--peer-batch-size", type=int, default=32)
    a = ap.parse_args()
    from sembed.data import STS_TASKS, load_sts
    from sembed.encoders import SentenceEncoder, resolve_model
    from sembed.evaluate import evaluate_sts
    from sentence_transformers import SentenceTransformer

    tasks = {t: load_sts(t, protocol="mteb", split="test", root=a.data)["all"] for t in STS_TASKS}
    n_sent = sum(2 * len(v[0]) for v in tasks.values())
    n_unique = len({s for v in tasks.values() for s in v[0] + v[1]})
    print(f"machine: {platform.machine()} x{os.cpu_count()} cores, torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"data: 7 MTEB STS test sets, {n_sent} sentences ({n_unique} unique)")

    t0 = time.perf_counter(); enc = SentenceEncoder.from_pretrained("minilm-l6", pooler="avg"); t_load_ours = time.perf_counter() - t0
    t0 = time.perf_counter(); peer = SentenceTransformer(str(resolve_model("minilm-l6").path), device="cpu"); t_load_peer = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours = evaluate_sts(lambda s: enc.encode(s, batch_size=a.batch_size, progress=False), protocol="mteb", root=a.data)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter(); theirs = peer_eval(peer, tasks, a.peer_batch_size); t_peer = time.perf_counter() - t0

    print(f"\n{'task':<8}{'sembed':>9}{'peer':>9}{'diff':>8}")
    worst = 0.0
    for t in STS_TASKS:
        d = ours["tasks"][t]["spearman"] - theirs[t]; worst = max(worst, abs(d))
        print(f"{t:<8}{ours['tasks'][t]['spearman']:9.2f}{theirs[t]:9.2f}{d:8.4f}")
    print(f"\nload   sembed {t_load_ours:6.1f}s   peer {t_load_peer:6.1f}s (excluded)")
    print(f"eval   sembed {t_ours:6.1f}s   peer (sentence-transformers encode) {t_peer:6.1f}s")
    print(f"ratio  sembed/peer = {t_ours / t_peer:.3f}   (must be < 1.0, goal <= 0.5)")
    print(f"max |score diff| = {worst:.4f}   (must be <= 0.01)")
    print(json.dumps({"sembed_s": round(t_ours, 2), "peer_s": round(t_peer, 2), "ratio": round(t_ours / t_peer, 3), "max_score_diff": round(worst, 4)}))


if __name__ == "__main__":
    main()
