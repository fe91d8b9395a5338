"""A sentence-transformers folder is scored with its own modules (issue: what a researcher meets, point 1): for every
pooling mode, with Dense and Normalize modules, sembed's vectors equal `SentenceTransformer.encode`'s; an explicit
pooler overrides the folder's with a one-line notice; a module sembed cannot reproduce is a one-line error."""
import json
from pathlib import Path
import numpy as np
import pytest
import torch
from conftest import error_lines, run_sembed
from _tiny import SENTS, tokenizer
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
from sembed.encoders import SentenceEncoder, cached_encode
from sembed.st_folder import ST_POOLERS

SENTENCES = SENTS + ["a much longer sentence, with several more word pieces in it than the others have!", "x"]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    "A tiny random BERT (hidden 32, dropout off) saved as a Hugging Face folder."
    from transformers import BertConfig, BertModel
    tok = tokenizer()
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    d = tmp_path_factory.mktemp("hf") / "bert"
    BertModel(cfg).save_pretrained(d); tok.save_pretrained(d)
    return d


def st_folder(hf_dir, out, mode, dense=None, normalize=False):
    "Save a sentence-transformers folder with sentence-transformers itself."
    tr = Transformer(str(hf_dir), max_seq_length=24)
    modules = [tr, Pooling(32, pooling_mode=mode)]
    if dense:
        torch.manual_seed(1)
        modules.append(Dense(32, 16, activation_function=dense()))
    if normalize: modules.append(Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(out))
    return out


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("mode,dense,normalize", [(m, None, False) for m in ST_POOLERS]
                         + [("cls", torch.nn.Tanh, True), ("mean", torch.nn.Identity, True), ("max", torch.nn.ReLU, False)])
def test_same_vectors_as_sentence_transformers(hf_dir, tmp_path, mode, dense, normalize):
    d = st_folder(hf_dir, tmp_path / "st", mode, dense, normalize)
    ref = SentenceTransformer(str(d), device="cpu").encode(SENTENCES, batch_size=4, convert_to_numpy=True)
    enc = SentenceEncoder.from_pretrained(str(d))
    assert enc.pooler == ST_POOLERS[mode] and enc.normalize == normalize and enc.max_length == 24
    close(enc.encode(SENTENCES, batch_size=3, progress=False), ref)
    # the CLI's path: the embedding cache holds pooled vectors, the folder's Dense modules follow
    for _ in range(2):   # a miss, then a hit
        close(cached_encode(enc, SENTENCES, [enc.pooler], batch_size=5, progress=False, root=tmp_path / "cache")[enc.pooler], ref)
    with torch.no_grad(): f = enc(enc.tokenize(SENTENCES[:3]))   # training's forward: pooler and head (normalising is the loss's job)
    close((torch.nn.functional.normalize(f, dim=1) if normalize else f).numpy(), ref[:3])


def test_legacy_pooling_config(hf_dir, tmp_path):
    "sentence-transformers 2.x wrote one boolean per mode (as all-MiniLM-L6-v2's folder has)."
    d = st_folder(hf_dir, tmp_path / "st", "lasttoken")
    ref = SentenceTransformer(str(d), device="cpu").encode(SENTENCES, convert_to_numpy=True)
    (d / "1_Pooling/config.json").write_text(json.dumps({"word_embedding_dimension": 32, "pooling_mode_cls_token": False,
                                                         "pooling_mode_mean_tokens": False, "pooling_mode_lasttoken": True}))
    close(SentenceEncoder.from_pretrained(str(d)).encode(SENTENCES, progress=False), ref)


def test_explicit_pooler_overrides_with_a_notice(hf_dir, tmp_path, capsys):
    d = st_folder(hf_dir, tmp_path / "st", "cls")
    enc = SentenceEncoder.from_pretrained(str(d), pooler="avg")
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("sembed: note:")]
    assert len(err) == 1 and "pooler 'avg' overrides the folder's pooling 'cls'" in err[0], err
    close(enc.encode(SENTENCES, progress=False), SentenceEncoder.from_pretrained(str(hf_dir), pooler="avg").encode(SENTENCES, progress=False))
    SentenceEncoder.from_pretrained(str(d), pooler="cls_before_pooler")   # the folder's own pooler: no notice
    assert "sembed: note:" not in capsys.readouterr().err


@pytest.mark.parametrize("edit,msg", [
    (lambda d: (d / "1_Pooling/config.json").write_text(json.dumps({"pooling_mode": ["mean", "max"]})), "mean+max concatenates"),
    (lambda d: (d / "modules.json").write_text(json.dumps(json.loads((d / "modules.json").read_text())
                                                          + [{"idx": 9, "name": "9", "path": "", "type": "sentence_transformers.models.LayerNorm"}])), "LayerNorm"),
    (lambda d: (d / "config_sentence_transformers.json").write_text(json.dumps({"default_prompt_name": "query", "prompts": {"query": "q: "}})), "default_prompt_name"),
], ids=["concatenated", "layernorm", "default-prompt"])
def test_unreproducible_folder_is_one_error_line(hf_dir, tmp_path, edit, msg):
    d = st_folder(hf_dir, tmp_path / "st", "mean")
    edit(d)
    p = run_sembed("eval", "--model", d, "--tasks", "STS-B", "--data", tmp_path / "no-data", "--out", tmp_path / "r.json")
    assert p.returncode == 2 and len(error_lines(p)) == 1 and msg in error_lines(p)[0], p.stderr[-1500:]
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_sembed_eval_scores_the_folders_own_pooling(hf_dir, tmp_path, data_dir):
    "The reported case: a CLS-pooled folder was scored with mean pooling."
    d = st_folder(hf_dir, tmp_path / "st", "cls")
    def score(*args):
        out = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
        p = run_sembed("eval", *args, "--tasks", "STS-B", "--data", data_dir, "--out", out, env={"SEMBED_CACHE_DIR": str(tmp_path / "cache")})
        assert p.returncode == 0, p.stderr[-1500:]
        return json.loads(out.read_text())["tasks"]["STS-B"]
    own, cls, avg = score("--model", d), score("--model", hf_dir, "--pooler", "cls_before_pooler", "--max-length", "24"), \
                   score("--model", hf_dir, "--pooler", "avg", "--max-length", "24")
    assert own == cls and own != avg, (own, cls, avg)
