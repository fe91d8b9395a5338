"""sembed.train: config validation, bad input, resume bit-for-bit, best checkpoint, 2-process DDP."""
import csv, itertools, json, os, re, socket
from pathlib import Path
import numpy as np, pytest, torch
import torch.multiprocessing as mp
from sembed.core import SembedError
from sembed.train import TrainConfig, train
from _tiny import SENTS, saved_weights, tiny_encoder
from _tol import assert_all_close_rel, assert_close_rel


_weights = saved_weights


def _counter_eval(start=0):
    c = itertools.count(start)
    return lambda enc: float(enc.encode(SENTS[:2]).sum()) * 0 + next(c)   # rising score: the last step is best


CFG = dict(batch_size=4, max_steps=8, learning_rate=1e-3, eval_steps=2, save_steps=2, log_steps=1, seed=3, warmup_steps=2)


def test_resume_is_bit_for_bit(tmp_path):
    full = train(TrainConfig(**CFG), tmp_path / "a", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=_counter_eval(),
                 progress=False)
    calls = itertools.count()
    def interrupt(enc):
        if next(calls) == 1: raise KeyboardInterrupt   # Ctrl-C during the evaluation at step 4
        return 0.0
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**CFG), tmp_path / "b", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=interrupt, progress=False)
    assert not (tmp_path / "b").exists() and (tmp_path / "b.ckpt" / "last.pt").exists()
    assert torch.load(tmp_path / "b.ckpt" / "last.pt", weights_only=True)["state"]["step"] == 2
    # a fresh encoder object (as after a crash): the checkpoint restores weights, optimizer, schedule, RNG
    train(TrainConfig(**CFG), tmp_path / "b", encoder=tiny_encoder("cls_before_pooler", seed=99), examples=SENTS,
          dev_eval=_counter_eval(100), progress=False)
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (tmp_path / "a" / "train_loss.csv").read_text() == (tmp_path / "b" / "train_loss.csv").read_text()
    assert not (tmp_path / "b.ckpt").exists()
    assert full["steps"] == 8 and full["best_step"] == 8
    # and training did change the weights
    w0 = tiny_encoder("cls_before_pooler").model.state_dict()
    assert any(not torch.equal(w0[k], wa[k]) for k in wa if k in w0)


def test_changed_config_does_not_silently_resume(tmp_path):
    calls = itertools.count()
    def interrupt(enc):
        if next(calls) == 1: raise KeyboardInterrupt
        return 0.0
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**CFG), tmp_path / "m", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=interrupt, progress=False)
    assert (tmp_path / "m.ckpt" / "last.pt").exists()
    with pytest.raises(SembedError, match="different config .field learning_rate"):
        train(TrainConfig(**{**CFG, "learning_rate": 2e-3}), tmp_path / "m", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS,
              progress=False)


# --- checkpoints are plain tensors and values: loading one cannot run code (issue 32) -----------------------

def _interrupted_at_step_2(tmp_path, name="m"):
    "A run of CFG stopped by Ctrl-C at its step-4 evaluation: its `last.pt` (step 2) is left for a resume."
    calls = itertools.count()
    def interrupt(enc):
        if next(calls) == 1: raise KeyboardInterrupt
        return 0.0
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**CFG), tmp_path / name, encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=interrupt, progress=False)
    return tmp_path / f"{name}.ckpt" / "last.pt"


class _OpensAMarker:
    "Unpickled, this calls open(marker, 'w'): the marker file appears if a loader runs what a pickle names."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (open, (self.marker, "w"))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    "A last.pt whose unpickling calls a function is refused without calling it: one line naming the file, no model folder."
    last, marker = tmp_path / "m.ckpt" / "last.pt", tmp_path / "marker"
    last.parent.mkdir()
    torch.save({"format": 2, "config": TrainConfig(**CFG).to_dict(), "state": _OpensAMarker(marker)}, last)
    with pytest.raises(SembedError) as e:
        train(TrainConfig(**CFG), tmp_path / "m", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, progress=False)
    assert not marker.exists()                                        # nothing in the file ran
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{last}: not a sembed checkpoint") and "could run code" in msg, msg
    assert last.exists() and not (tmp_path / "m").exists()


def test_old_format_checkpoint_is_a_one_line_error(tmp_path):
    "A last.pt of an older sembed (numpy's RNG state pickled as an ndarray) is a one-line error naming it, not a traceback."
    last = _interrupted_at_step_2(tmp_path)
    ck = torch.load(last, weights_only=True)                          # the new format: plain values only
    assert ck.pop("format") == 2 and ck["state"]["step"] == 2
    for r in ck["rng"]:                                               # back to what older sembed wrote
        kind, key, pos, has_gauss, gauss = r["numpy"]
        r["numpy"] = (kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss)
    torch.save(ck, last)
    with pytest.raises(SembedError, match=re.escape(f"{last}: checkpoint was written by an older sembed (unsafe pickle format); "
                                                    "delete it to restart")) as e:
        train(TrainConfig(**CFG), tmp_path / "m", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, progress=False)
    assert "\n" not in str(e.value) and last.exists() and not (tmp_path / "m").exists()


def test_sembed_never_unpickles_unsafely():
    "No `weights_only=False` in sembed/, every torch.load there passes weights_only=True, no pickle.load / allow_pickle."
    src = {p.name: p.read_text() for p in (Path(__file__).resolve().parents[1] / "sembed").glob("*.py")}
    assert [n for n, s in src.items() if "weights_only=False" in s] == []
    loads = [(n, c) for n, s in src.items() for c in re.findall(r"torch\.load\([^)]*\)", s)]
    assert loads and [(n, c) for n, c in loads if "weights_only=True" not in c] == []
    assert [n for n, s in src.items() if re.search(r"\bpickle\.loads?\(|allow_pickle\s*=\s*True", s)] == []


def test_best_checkpoint_is_kept(tmp_path):
    seen = []
    def dev(enc):
        seen.append({k: v.clone() for k, v in enc.encoder.model.state_dict().items()})
        return [0.5, 0.9, 0.1, 0.2][len(seen) - 1]
    s = train(TrainConfig(**CFG), tmp_path / "m", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=dev, progress=False)
    assert s["best_step"] == 4 and s["best_stsb_dev_spearman"] == 0.9
    w = _weights(tmp_path / "m")
    assert all(torch.equal(w[k], seen[1][k]) for k in w)
    assert any(not torch.equal(w[k], seen[3][k]) for k in w)
    rows = list(csv.reader(open(tmp_path / "m" / "dev.csv")))
    assert rows == [["step", "stsb_dev_spearman"], ["2", "0.5"], ["4", "0.9"], ["6", "0.1"], ["8", "0.2"]]
    loss = list(csv.reader(open(tmp_path / "m" / "train_loss.csv")))
    assert loss[0] == ["step", "loss", "lr"] and len(loss) == 9
    assert float(loss[1][2]) == 0.0 and float(loss[3][2]) == pytest.approx(1e-3)   # warm-up, then peak
    assert json.load(open(tmp_path / "m" / "sembed.json"))["pooler"] == "cls_before_pooler"


# --- bad input: one-line error before any training, nothing written -----------------------------------

class _Untouchable(torch.nn.Module):
    "An encoder that must never be used: bad input has to be caught first."
    hidden_size, pooler = 32, "cls_before_pooler"
    def tokenize(self, s): raise AssertionError("training started")
    def forward(self, f): raise AssertionError("training started")


@pytest.mark.parametrize("case", ["empty_file", "missing_column", "unsup_batch_1", "lr_zero", "lr_negative",
                                  "unknown_field", "too_few_examples"])
def test_bad_input(case, tmp_path):
    data = tmp_path / "data"; data.mkdir()
    (data / "empty.txt").write_text("\n  \n")
    (data / "trip.csv").write_text("sent0,sent1\na cat,a pet\n")
    (data / "ok.txt").write_text("\n".join(SENTS))
    cfg, match = {
        "empty_file": ({"train_file": str(data / "empty.txt")}, "empty.txt: training file has no sentences"),
        "missing_column": ({"method": "simcse-sup", "train_file": str(data / "trip.csv")}, "trip.csv: missing column 'hard_neg'"),
        "unsup_batch_1": ({"batch_size": 1, "train_file": str(data / "ok.txt")}, "field batch_size: bad value 1"),
        "lr_zero": ({"learning_rate": 0, "train_file": str(data / "ok.txt")}, "field learning_rate: bad value 0"),
        "lr_negative": ({"learning_rate": -3e-5, "train_file": str(data / "ok.txt")}, "field learning_rate: bad value -3e-05"),
        "unknown_field": ({"learning_rat": 3e-5, "train_file": str(data / "ok.txt")}, "unknown field 'learning_rat'"),
        "too_few_examples": ({"batch_size": 64, "train_file": str(data / "ok.txt")}, "16 training examples are fewer"),
    }[case]
    out = tmp_path / "out"
    with pytest.raises(SembedError, match=match) as e:
        train(cfg, out / "model", encoder=_Untouchable(), log_dir=out / "results", progress=False)
    assert "\n" not in str(e.value)
    assert not out.exists()


def test_encoder_pooler_mismatch(tmp_path):
    with pytest.raises(SembedError, match="field pooler: 'cls_before_pooler' but the given encoder pools with 'avg'"):
        train(TrainConfig(**CFG), tmp_path / "m", encoder=tiny_encoder("avg"), examples=SENTS, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_examples(tmp_path):
    with pytest.raises(SembedError, match="example 1: bad value .* triplets corpus example"):
        train({"method": "simcse-sup", "batch_size": 2}, tmp_path / "m", encoder=_Untouchable(), examples=[("a", "b", "c"), ("a", "b")])
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path):
    with pytest.raises(SembedError, match="nope.txt: training file not found"):
        train({"train_file": str(tmp_path / "nope.txt")}, tmp_path / "m", encoder=_Untouchable())
    assert list(tmp_path.iterdir()) == []


def test_logs_with_prefix(tmp_path):
    f = tmp_path / "nli.csv"
    f.write_text("sent0,sent1,hard_neg\n" + "\n".join(f'"{SENTS[i]}","{SENTS[i+1]}","{SENTS[i+2]}"' for i in range(12)))
    s = train({"method": "simcse-sup", "train_file": str(f), "batch_size": 4, "grad_accum": 2, "epochs": 2, "log_steps": 2},
              tmp_path / "models" / "sup", encoder=tiny_encoder("cls_before_pooler"), log_dir=tmp_path / "results", name="sup", progress=False)
    assert s["steps"] == 2 and s["test_pooler"] == "cls"
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["runs", "sup.dev.csv", "sup.train.json", "sup.train_loss.csv"]
    assert [p.name for p in (tmp_path / "results" / "runs").iterdir()] == ["sup.train.json"]   # its run record: commit, timings
    assert (tmp_path / "models" / "sup" / "st" / "modules.json").exists()


# --- DDP: 2 gloo processes == 1 process (dropout off, supervised objective) -----------------------------

TRIPS = [(SENTS[i], SENTS[(i + 1) % 16], SENTS[(i + 5) % 16]) for i in range(16)]
# adam_epsilon=1: Adam's update g/(sqrt(v)+eps) is then ~linear in g, so weights compare gradients (with the default
# 1e-8, round-off in near-zero gradients is blown up to ~lr, and a wrong gradient scale would go unnoticed).
DCFG = dict(method="simcse-sup", batch_size=4, max_steps=3, learning_rate=1e-1, adam_epsilon=1.0, log_steps=1, seed=1,
            save_steps=0, hard_negative_weight=0.5, max_grad_norm=0.0)


def _ddp_worker(rank, world, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        train(TrainConfig(**DCFG), out, encoder=tiny_encoder("cls_before_pooler", dropout=0.0), examples=TRIPS, progress=False)
    finally:
        dist.destroy_process_group()


def test_ddp_matches_single_process(tmp_path):
    train(TrainConfig(**DCFG), tmp_path / "one", encoder=tiny_encoder("cls_before_pooler", dropout=0.0), examples=TRIPS,
          progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    mp.start_processes(_ddp_worker, args=(2, port, str(tmp_path / "two")), nprocs=2, join=True, start_method="spawn")
    l1 = np.loadtxt(tmp_path / "one" / "train_loss.csv", delimiter=",", skiprows=1)
    l2 = np.loadtxt(tmp_path / "two" / "train_loss.csv", delimiter=",", skiprows=1)
    assert l1.shape == l2.shape == (3, 3)
    np.testing.assert_array_equal(l1[:, [0, 2]], l2[:, [0, 2]])    # step and lr columns: same schedule, exactly
    # the loss is lse(logits) - logit with logits cos/τ of size 1/τ = 20: float32 round-off is a few ulps of 20
    # (up to 1.2e-6 seen); negatives not gathered change it by 0.6
    assert_close_rel(l2[:, 1], l1[:, 1], rel=1e-6, scale=1 / 0.05, what="logged loss, 2 processes vs 1")
    assert json.load(open(tmp_path / "two" / "train.json"))["world_size"] == 2
    w1, w2 = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    w0 = tiny_encoder("cls_before_pooler", dropout=0.0).model.state_dict()
    moved = max((w1[k] - w0[k]).abs().max().item() for k in w1)
    assert moved > 1e-4                                                          # training moved the weights...
    # ...identically in both set-ups, up to round-off: every weight within 1e-5 of the largest move (0.23, the head's;
    # 1.3e-6 of it seen). Bugs differ by 8e-5 (negatives not gathered), 2e-4 (BERT gradients summed, not averaged)
    # and 3e-2 (gathered without gradients) of it.
    assert_all_close_rel(w2, w1, rel=1e-5, scale=moved, what="weights after 3 steps, 2 processes vs 1")


# --- a method with extra state in its objective (a queue of past embeddings, as ESimCSE keeps) -------------

class _QueueLoss(torch.nn.Module):
    "InfoNCE over two dropout views plus a FIFO queue of past (detached) embeddings as extra negatives."
    def __init__(self, o):
        super().__init__()
        self.register_buffer("queue", torch.zeros(6, 32)); self.register_buffer("filled", torch.zeros((), dtype=torch.long))
    def forward(self, z):
        b = z.shape[0] // 2
        h, hp = torch.nn.functional.normalize(z[:b], dim=-1), torch.nn.functional.normalize(z[b:], dim=-1)
        neg = torch.cat([hp, self.queue[: int(self.filled)]])
        loss = torch.nn.functional.cross_entropy(h @ neg.T / 0.05, torch.arange(b))
        with torch.no_grad():   # enqueue this batch, drop the oldest
            self.queue.copy_(torch.cat([hp.detach(), self.queue])[: self.queue.shape[0]])
            self.filled.fill_(min(int(self.filled) + b, self.queue.shape[0]))
        return loss


@pytest.fixture()
def queue_method():
    "Register the test method for one test only (the registry is process-wide)."
    from sembed.methods import METHODS
    yield _register_queue_method()
    METHODS.pop("test-queue", None)


def _register_queue_method():
    from sembed.methods import Method, register
    return register(Method("test-queue", None, "train", "test: InfoNCE with a queue", corpus="sentences",
                           view=lambda batch, o: (list(batch) * 2, None), objective=_QueueLoss, train_pooler="avg"))


def _queue_run_interrupted_then_resumed(tmp_path):
    "Train the queue method straight (a/) and interrupted at step 4 then resumed (b/); returns the resume call's args."
    cfg = {**CFG, "method": "test-queue"}
    train(TrainConfig(**cfg), tmp_path / "a", encoder=tiny_encoder("avg"), examples=SENTS, dev_eval=_counter_eval(), progress=False)
    calls = itertools.count()
    def interrupt(enc):
        if next(calls) == 1: raise KeyboardInterrupt
        return 0.0
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**cfg), tmp_path / "b", encoder=tiny_encoder("avg"), examples=SENTS, dev_eval=interrupt, progress=False)
    return lambda: train(TrainConfig(**cfg), tmp_path / "b", encoder=tiny_encoder("avg", seed=99), examples=SENTS,
                         dev_eval=_counter_eval(100), progress=False)


def test_resume_restores_objective_state(tmp_path, queue_method):
    "Resume after interruption gives the same final weights for a method whose objective keeps state (a queue)."
    resume = _queue_run_interrupted_then_resumed(tmp_path)
    ck = torch.load(tmp_path / "b.ckpt" / "last.pt", weights_only=True)
    assert int(ck["objective"]["filled"]) == 6 and ck["objective"]["queue"].abs().sum() > 0   # the queue is checkpointed
    resume()
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (tmp_path / "a" / "train_loss.csv").read_text() == (tmp_path / "b" / "train_loss.csv").read_text()


def test_resume_without_objective_state_would_differ(tmp_path, monkeypatch, queue_method):
    "The check above can fail: if the queue were not restored, the resumed run's weights differ."
    import sembed.train as T
    resume = _queue_run_interrupted_then_resumed(tmp_path)
    orig = T._Run._load_weights
    monkeypatch.setattr(T._Run, "_load_weights", lambda self, ck: orig(self, {**ck, "objective": self.objective.state_dict()}))
    resume()
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)
