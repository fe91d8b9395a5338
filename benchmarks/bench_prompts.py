"""Benchmark (not a test): sembed's prompt loop on SmolLM2-135M vs the papers' straightforward transformers loop.

In one run, on the same machine, on the STS-B test sentences (SentEval files, both columns of every scored pair):
- naive: what the papers' evaluation scripts do (kongds/scaling_sentemb evaluation.py, and the later papers' copies):
  `AutoModelForCausalLM` with `output_hidden_states=True`, left padding, a fixed batch size, the sentences in file
  order (first column, then second), no length sorting, no de-duplication, `hidden_states[-1][:, -1]`;
- sembed: `sembed.prompteol.prompt_embed` (distinct prompts, sorted by length, shared prefix cached, base model only);
- MetaEOL: sembed's eight-prompt embedding (`sembed.metaeol`), each instruction prefix run once and cached.
The same fp32 weights (de-quantised from the GGUF file) serve every contender; no embedding cache. Prints the times,
the ratios naive / sembed (must >= 2, goal >= 3) and MetaEOL / PromptEOL (goal <= 4) with its token floor (the
tokens the eight prompts run after their cached prefixes over PromptEOL's), and the Spearman difference (must <= 0.01).

    python benchmarks/bench_prompts.py [--data data] [--batch-size 64] [--naive-batch-size 16]
"""
import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def after_prefix(tok, prompts, prefix):
    "Tokens `prompt_states` runs for `prompts` once `prefix`'s keys/values are cached (distinct prompts)."
    from sembed.prompteol import cached_prefix_length
    ids = tok(list(dict.fromkeys(prompts)), verbose=False)["input_ids"]
    return sum(map(len, ids)) - len(ids) * cached_prefix_length(tok, ids, prefix)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--naive-batch-size", type=int, default=16, help="the papers' SentEval batch size (default 16)")
    ap.add_argument("--skip-metaeol", action="store_true")
    ap.add_argument("--metaeol-sample", type=int, default=100, help="sentences for MetaEOL with vs without the cached prefixes (default 100)")
    a = ap.parse_args()
    import numpy as np, torch
    from sembed.core import SembedError
    from sembed.data import load_sts
    from sembed.evaluate import correlations, cosine_pairs
    from sembed.encoders import SentenceEncoder, resolve_model
    from sembed.prompteol import EOL_TEMPLATE, fill, prompt_embed, template_prefix
    try: s1, s2, gold = load_sts("STS-B", split="test", root=a.data)["test"]
    except SembedError as e: sys.exit(f"bench_prompts: {e} (run `dvc repro` or `sembed download --out {a.data}` first)")
    s1, s2 = list(s1), list(s2)

    enc = SentenceEncoder.from_pretrained("smollm2-135m")
    from transformers import AutoModelForCausalLM
    src = resolve_model("smollm2-135m")
    lm = AutoModelForCausalLM.from_pretrained(src.path, gguf_file=src.gguf_file).eval()
    tok = enc.tokenizer.__class__.from_pretrained(src.path, gguf_file=src.gguf_file)
    tok.padding_side = "left"
    if tok.pad_token is None: tok.pad_token = tok.eos_token

    def naive(sentences):
        out = []
        with torch.inference_mode():
            for i in range(0, len(sentences), a.naive_batch_size):
                b = tok([fill(EOL_TEMPLATE, s) for s in sentences[i:i + a.naive_batch_size]], padding=True, return_tensors="pt")
                out.append(lm(**b, output_hidden_states=True, return_dict=True).hidden_states[-1][:, -1].float().numpy())
        return np.concatenate(out)

    score = lambda e1, e2: correlations(cosine_pairs(e1, e2), gold)["spearman"]
    t = time.perf_counter(); n1, n2 = naive(s1), naive(s2); t_naive = time.perf_counter() - t
    t = time.perf_counter()
    e = prompt_embed(enc, s1 + s2, batch_size=a.batch_size, progress=False)
    t_ours = time.perf_counter() - t
    e1, e2 = e[:len(s1)], e[len(s1):]
    r = {"sentences": len(s1) + len(s2), "distinct": len(set(s1 + s2)), "naive_s": round(t_naive, 2), "sembed_s": round(t_ours, 2),
         "speedup": round(t_naive / t_ours, 3), "naive_spearman": score(n1, n2), "sembed_spearman": score(e1, e2),
         "max_abs_vector_diff": float(np.abs(np.concatenate([n1, n2]) - e).max()), "max_abs_vector": float(np.abs(e).max())}
    r["spearman_diff"] = abs(r["naive_spearman"] - r["sembed_spearman"])
    print(f"STS-B test, {r['sentences']} sentence slots ({r['distinct']} distinct), SmolLM2-135M fp32, PromptEOL")
    print(f"naive loop (AutoModelForCausalLM, batch {a.naive_batch_size}, file order): {t_naive:7.1f} s   Spearman {r['naive_spearman']:.4f}")
    print(f"sembed prompt_embed (batch {a.batch_size}):                          {t_ours:7.1f} s   Spearman {r['sembed_spearman']:.4f}")
    print(f"speedup naive / sembed = {r['speedup']:.2f}   (must >= 2, goal >= 3);  |Spearman diff| = {r['spearman_diff']:.5f} (must <= 0.01)")
    if not a.skip_metaeol:
        from sembed.metaeol import METAEOL_TEMPLATES
        t = time.perf_counter()
        m = np.mean([prompt_embed(enc, s1 + s2, tp, batch_size=a.batch_size, progress=False) for tp in METAEOL_TEMPLATES], axis=0)
        t_meta = time.perf_counter() - t
        r.update(metaeol_s=round(t_meta, 2), metaeol_over_prompteol=round(t_meta / t_ours, 3),
                 metaeol_spearman=score(m[:len(s1)], m[len(s1):]))
        print(f"sembed MetaEOL (8 prompts, prefixes cached):                 {t_meta:7.1f} s   Spearman {r['metaeol_spearman']:.4f}")
        print(f"MetaEOL / PromptEOL = {r['metaeol_over_prompteol']:.2f}   (goal <= 4)")
        # the floor: tokens each template runs after its cached prefix (as `prompt_states` cuts it), MetaEOL's eight
        # over PromptEOL's. A decoder's state at the sentence depends on the instruction before it, so every prompt runs
        # the sentence and its own ending; no exact implementation runs fewer tokens (cost ~ tokens at these lengths).
        after = lambda tp: after_prefix(enc.tokenizer, [fill(tp, x) for x in dict.fromkeys(s1 + s2)], template_prefix(tp))
        r["metaeol_token_floor"] = round(sum(after(tp) for tp in METAEOL_TEMPLATES) / after(EOL_TEMPLATE), 3)
        print(f"token floor of MetaEOL / PromptEOL = {r['metaeol_token_floor']:.2f}: tokens run after the cached prefixes, "
              f"8 prompts over 1 (no exact implementation costs less)")
        from sembed.prompteol import prompt_states
        sample = list(dict.fromkeys(s1 + s2))[:a.metaeol_sample]
        t = time.perf_counter()
        for tp in METAEOL_TEMPLATES: prompt_states(enc, [fill(tp, x) for x in sample], prefix=None, batch_size=a.batch_size, progress=False)
        t_nocache = time.perf_counter() - t
        t = time.perf_counter()
        for tp in METAEOL_TEMPLATES: prompt_states(enc, [fill(tp, x) for x in sample], prefix=template_prefix(tp), batch_size=a.batch_size, progress=False)
        t_cache = time.perf_counter() - t
        r.update(metaeol_sample=len(sample), metaeol_sample_nocache_s=round(t_nocache, 2), metaeol_sample_cache_s=round(t_cache, 2),
                 metaeol_prefix_cache_speedup=round(t_nocache / t_cache, 3))
        print(f"MetaEOL on {len(sample)} sentences: instructions recomputed {t_nocache:.1f} s, cached once {t_cache:.1f} s, "
              f"speedup {t_nocache / t_cache:.2f}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
