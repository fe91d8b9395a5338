"""Alignment and uniformity (Wang & Isola 2020) against hand computation and torch reference formulas."""
import numpy as np
import pytest
import torch
from sembed.core import SembedError
from sembed.geometry import alignment, uniformity, stsb_geometry


def test_alignment_by_hand():
    # after normalisation: pair 1 = e1 vs e2 (squared distance 2), pair 2 identical (0)
    x = np.array([[2., 0.], [0., 5.]]); y = np.array([[0., 1.], [0., 0.5]])
    assert alignment(x, y) == pytest.approx(1.0)
    assert alignment(x, y, alpha=1) == pytest.approx(np.sqrt(2) / 2)


def test_uniformity_by_hand():
    # orthonormal triple: every pair at squared distance 2 -> log(exp(-4)) = -4
    assert uniformity(np.eye(3) * 7) == pytest.approx(-4.0)
    # two points at 90 degrees and one opposite the first: d2 = 2, 4, 2
    x = np.array([[1., 0.], [0., 1.], [-1., 0.]])
    assert uniformity(x) == pytest.approx(np.log((2 * np.exp(-4) + np.exp(-8)) / 3))


def test_matches_wang_isola_reference():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 16, generator=g, dtype=torch.float64), torch.randn(64, 16, generator=g, dtype=torch.float64)
    xn, yn = torch.nn.functional.normalize(x, dim=1), torch.nn.functional.normalize(y, dim=1)
    ref_align = (xn - yn).norm(p=2, dim=1).pow(2).mean().item()
    ref_unif = torch.pdist(xn, p=2).pow(2).mul(-2).exp().mean().log().item()
    assert alignment(x, y) == pytest.approx(ref_align, abs=1e-10)
    assert uniformity(x, block=5) == pytest.approx(ref_unif, abs=1e-10)


def test_bad_input():
    with pytest.raises(SembedError): alignment(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(SembedError): uniformity(np.ones((1, 3)))
    with pytest.raises(SembedError): uniformity(np.ones(3))


def _stsb(root, rows):
    d = root / "senteval/downstream/STS/STSBenchmark"; d.mkdir(parents=True)
    for split, rs in rows.items():
        (d / f"sts-{split}.csv").write_text("".join(f"main-captions\tMSRvid\t2012test\t{i:04d}\t{s}\t{a}\t{b}\n"
                                                    for i, (a, b, s) in enumerate(rs)))


def test_stsb_geometry_senteval_layout(tmp_path):
    rows = {"train": [("a man plays guitar .", "a man is playing a guitar .", 4.8), ("x y", "z w", 0.2)],
            "dev": [("a dog runs .", "a dog is running .", 4.0), ("one", "two", 1.0)],
            "test": [("sun rises .", "the sun is rising .", 4.4)]}
    _stsb(tmp_path, rows)
    rng = np.random.default_rng(0); table = {}
    def enc(sents):
        for s in sents: table.setdefault(s, rng.normal(size=8))
        return np.stack([table[s] for s in sents]).astype(np.float32)
    g = stsb_geometry(enc, root=tmp_path)
    pos = [(a, b) for rs in rows.values() for a, b, s in rs if s > 4]  # the 4.0 pair is NOT positive
    assert g["n_pos_pairs"] == 2 and g["split"] == "all"
    assert g["alignment"] == pytest.approx(alignment(enc([a for a, _ in pos]), enc([b for _, b in pos])))
    sents = sorted({s for rs in rows.values() for r in rs for s in r[:2]})
    assert g["n_sentences"] == len(sents)
    assert g["uniformity"] == pytest.approx(uniformity(enc(sents)))
    assert stsb_geometry(enc, root=tmp_path, split="test")["n_pos_pairs"] == 1
    with pytest.raises(SembedError): stsb_geometry(enc, root=tmp_path, split="validation")
