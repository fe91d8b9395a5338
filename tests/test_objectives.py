"""SimCSE objectives: hand computations, dropout views, and distributed (gloo, 2 processes) equivalence."""
import os, socket
import numpy as np, pytest, torch
import torch.multiprocessing as mp
from sembed.core import SembedError
from sembed.objectives import MLPHead, SupSimCSELoss, UnsupSimCSELoss
from _tiny import SENTS, tiny_encoder
from _tol import assert_all_close_rel, assert_close_rel, max_abs


def _cos(u, v): return float(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))


def _ref_loss(h, pos, negs, tau, w=0.0):
    "Explicit-loop InfoNCE over NumPy arrays (negs None = unsupervised)."
    out = []
    for i in range(len(h)):
        num = np.exp(_cos(h[i], pos[i]) / tau)
        den = sum(np.exp(_cos(h[i], pos[j]) / tau) for j in range(len(pos)))
        if negs is not None:
            den += sum(np.exp(_cos(h[i], negs[j]) / tau + (w if i == j else 0.0)) for j in range(len(negs)))
        out.append(-np.log(num / den))
    return float(np.mean(out))


@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0])
def test_unsup_hand_computed(tau):
    rng = np.random.default_rng(0)
    h, hp = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    got = UnsupSimCSELoss(tau)(torch.tensor(np.concatenate([h, hp]), dtype=torch.float64)).item()
    assert abs(got - _ref_loss(h, hp, None, tau)) < 1e-5 * max(1, abs(got))


@pytest.mark.parametrize("tau,w", [(0.05, 0.0), (0.1, 0.0), (0.5, 1.0), (0.05, -0.7)])
def test_sup_hand_computed(tau, w):
    rng = np.random.default_rng(1)
    h, hp, hn = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    z = torch.tensor(np.concatenate([h, hp, hn]), dtype=torch.float64)
    got = SupSimCSELoss(tau, w)(z).item()
    assert abs(got - _ref_loss(h, hp, hn, tau, w)) < 1e-5 * max(1, abs(got))


def test_perfect_alignment_is_low_loss():
    "Orthogonal sentences whose two views coincide: the loss is log(1 + (n-1)·e^{-1/τ}), near 0."
    z = torch.eye(4).repeat(2, 1)
    # a float32 loss from logits of size 1/τ = 20: its round-off scales with 20, not with the ~0 loss (no τ: 0.74)
    assert_close_rel(UnsupSimCSELoss(0.05)(z).item(), np.log(1 + 3 * np.exp(-20)), rel=1e-6, scale=1 / 0.05)


def test_unsup_batch_of_one_fails():
    with pytest.raises(SembedError, match="batch size 1"):
        UnsupSimCSELoss()(torch.randn(2, 8))


def test_bad_temperature():
    with pytest.raises(SembedError, match="temperature"): UnsupSimCSELoss(-1)
    with pytest.raises(SembedError, match="temperature"): SupSimCSELoss(0)


def test_mlp_head():
    head = MLPHead(5)
    x = torch.randn(3, 5)
    ref = np.tanh(x.numpy() @ head.dense.weight.detach().numpy().T + head.dense.bias.detach().numpy())
    assert_close_rel(head(x), ref, rel=1e-5, floor=1.0, what="MLPHead")   # torch vs NumPy matmul order; tanh <= 1


def test_dropout_views_differ_in_train_and_match_in_eval():
    enc = tiny_encoder("cls_before_pooler", dropout=0.1)
    feats = enc.tokenize(SENTS[:4] + SENTS[:4])   # the doubled batch, one forward
    enc.train()
    z = enc(feats)
    assert (z[:4] - z[4:]).abs().max() > 1e-4
    enc.eval()
    with torch.no_grad(): z = enc(feats)
    assert_close_rel(z[:4], z[4:], rel=1e-5, what="eval views")   # same rows, other batch positions


# --- distributed: 2 gloo processes with half a batch each == 1 process with the whole batch ---------
# Pooling: "avg". With "cls_before_pooler" the [CLS] vectors of a random-init tiny BERT coincide (all cosines
# > 0.9999), so InfoNCE's gradient is the small remainder of nearly equal terms and float32 round-off is amplified
# ~1000x: merely permuting the batch in ONE process changed gradients by up to 3e-3 of their largest entry, which no
# tight tolerance survives on every CPU. Mean pooling gives distinct sentences (cosines down to 0.7): the same
# permutation, or 2 processes, change gradients by ~1e-6 of their largest entry, so 1e-4 leaves a wide margin and
# still catches real bugs (no gather, gather without gradients, gradients summed not averaged: >= 0.28 of it).
TAU = 0.05


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _loss_and_grads(kind, sents, world=1):
    "Tiny BERT (dropout off) + MLP head + objective on `sents`; returns (loss, {name: grad}) averaged over processes."
    torch.manual_seed(0)
    enc = tiny_encoder("avg", seed=0, dropout=0.0)
    head = MLPHead(enc.hidden_size)
    if kind == "unsup":
        loss_fn, batch = UnsupSimCSELoss(TAU), list(sents) + list(sents)
    else:
        loss_fn = SupSimCSELoss(TAU, hard_negative_weight=0.3)
        batch = [t[0] for t in sents] + [t[1] for t in sents] + [t[2] for t in sents]
    loss = loss_fn(head(enc(enc.tokenize(batch))))
    loss.backward()
    params = dict(enc.model.named_parameters(prefix="model")) | dict(head.named_parameters(prefix="head"))
    grads = {k: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for k, p in params.items()}
    loss = loss.detach().clone()
    if world > 1:   # what DDP does: average gradients (and we average the logged loss)
        import torch.distributed as dist
        for g in grads.values(): dist.all_reduce(g); g /= world
        dist.all_reduce(loss); loss /= world
    return loss.item(), {k: g.numpy() for k, g in grads.items()}


def _worker(rank, world, port, kind, data, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        b = len(data) // world
        res = _loss_and_grads(kind, data[rank * b:(rank + 1) * b], world)
        if rank == 0: torch.save(res, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("kind", ["unsup", "sup"])
def test_distributed_equivalence(kind, tmp_path):
    data = SENTS[:8] if kind == "unsup" else [(SENTS[i], SENTS[i + 8], SENTS[(i + 3) % 16]) for i in range(8)]
    loss1, grads1 = _loss_and_grads(kind, data)
    out = tmp_path / "rank0.pt"
    mp.start_processes(_worker, args=(2, _free_port(), kind, data, out), nprocs=2, join=True, start_method="spawn")
    loss2, grads2 = torch.load(out, weights_only=False)
    # the loss is lse(logits) - logit, both of size ~1/τ: float32 round-off is a few ulps of 1/τ = 20
    assert_close_rel(loss2, loss1, rel=1e-6, scale=1 / TAU, what=f"{kind} loss, 2 processes vs 1")
    # every gradient entry within 1e-4 of the largest gradient entry (one scale for all parameters; see above)
    assert_all_close_rel(grads2, grads1, rel=1e-4, what=f"{kind} gradients, 2 processes vs 1")
    assert sum(max_abs(g) > 0 for g in grads1.values()) > 10   # the comparison is about real gradients, not zeros
