"""sembed.export: the sentence-transformers folder loads without custom code and encodes like sembed."""
import json
import numpy as np, pytest, torch
from sembed.core import SembedError
from sembed.export import save_sentence_transformers, save_trained
from sembed.objectives import MLPHead
from sembed.train import EvalEncoder, TrainConfig, train
from _tiny import SENTS, tiny_encoder
from _tol import assert_close_rel


def _st(path):
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(path), device="cpu")   # default: trust_remote_code=False


def test_avg_variant(tmp_path):
    enc = tiny_encoder("avg").eval()
    assert save_trained(enc, tmp_path / "m", head_mode="none", method="baseline", base_model="tiny") == "avg"
    st = _st(tmp_path / "m" / "st")
    assert [type(m).__name__ for m in st] == ["Transformer", "Pooling"]
    ref = enc.encode(SENTS)
    assert_close_rel(st.encode(SENTS), ref, rel=1e-5, what="sentence-transformers vs sembed (avg)")
    assert np.abs(ref).max() > 0.1     # a real comparison
    assert json.load(open(tmp_path / "m" / "sembed.json"))["pooler"] == "avg"


def test_cls_dense_variant_reproduces_the_training_head(tmp_path):
    enc = tiny_encoder("cls_before_pooler").eval()
    torch.manual_seed(5); head = MLPHead(enc.hidden_size)
    with torch.no_grad(): trained = head(enc(enc.tokenize(SENTS))).numpy()
    assert save_trained(enc, tmp_path / "m", head=head, head_mode="mlp", method="simcse-sup") == "cls"
    st = _st(tmp_path / "m" / "st")
    assert [type(m).__name__ for m in st] == ["Transformer", "Pooling", "Dense"]
    assert_close_rel(st.encode(SENTS), trained, rel=1e-5, floor=1.0, what="sentence-transformers vs head")  # tanh
    # the HF folder alone: BERT's pooler now is the head
    from transformers import AutoModel, AutoTokenizer
    m, tok = AutoModel.from_pretrained(tmp_path / "m").eval(), AutoTokenizer.from_pretrained(tmp_path / "m")
    with torch.no_grad(): hf = m(**tok(SENTS, padding=True, truncation=True, max_length=32, return_tensors="pt")).pooler_output
    assert_close_rel(hf, trained, rel=1e-5, floor=1.0, what="HF pooler_output vs head")


def test_unsup_drops_the_head(tmp_path):
    enc = tiny_encoder("cls_before_pooler").eval()
    assert save_trained(enc, tmp_path / "m", head=MLPHead(32), head_mode="mlp_train_only") == "cls_before_pooler"
    assert_close_rel(_st(tmp_path / "m" / "st").encode(SENTS), enc.encode(SENTS), rel=1e-5,
                     what="sentence-transformers vs sembed (cls_before_pooler)")


def test_trained_sup_model_round_trip(tmp_path):
    trips = [(SENTS[i], SENTS[(i + 1) % 16], SENTS[(i + 7) % 16]) for i in range(16)]
    enc = tiny_encoder("cls_before_pooler")
    train(TrainConfig(method="simcse-sup", batch_size=8, max_steps=2, learning_rate=1e-3), tmp_path / "m", encoder=enc,
          examples=trips, progress=False)
    # what sembed computed while training (encoder + kept head), vs the exported sentence-transformers folder
    head_view = EvalEncoder(enc, None)   # after export the model's own pooler holds the head
    enc.pooler = "cls"
    assert_close_rel(_st(tmp_path / "m" / "st").encode(SENTS), head_view.encode(SENTS), rel=1e-5, floor=1.0,
                     what="sentence-transformers vs trained encoder + head")


@pytest.mark.parametrize("pooler", ["cls_before_pooler", "avg"])
def test_normalizing_encoder_exports_a_normalize_module(tmp_path, pooler):
    "An encoder that L2-normalises (e.g. one trained from MiniLM) exports with a Normalize module."
    from sembed.encoders import SentenceEncoder
    t = tiny_encoder(pooler)
    enc = SentenceEncoder(t.model, t.tokenizer, pooler=pooler, max_length=32, normalize=True).eval()
    save_trained(enc, tmp_path / "m", head_mode="none")
    st = _st(tmp_path / "m" / "st")
    assert [type(m).__name__ for m in st][-1] == "Normalize"
    ref = enc.encode(SENTS)
    assert np.allclose(np.linalg.norm(ref, axis=1), 1, atol=1e-5)
    assert_close_rel(st.encode(SENTS), ref, rel=1e-5, floor=1.0, what=f"sentence-transformers vs sembed ({pooler})")


def test_unexportable_pooler(tmp_path):
    enc = tiny_encoder("avg"); enc.pooler = "avg_first_last"
    with pytest.raises(SembedError, match="pooler 'avg_first_last' has no sentence-transformers equivalent"):
        save_trained(enc, tmp_path / "m")
    assert not (tmp_path / "m").exists()
