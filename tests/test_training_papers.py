"""Training papers on the shared trainer (issue 9): SBERT-NLI (sembed.sbert), CoSENT (sembed.cosent), AnglE
(sembed.angle). Our objectives equal sentence-transformers' on the same embeddings; the methods train a tiny model
through `sembed train`; bad corpora / labels / settings are one-line errors before any work."""
import json, sys
from pathlib import Path
import numpy as np, pytest, torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _tiny import tiny_encoder  # noqa: E402

from sembed.core import SembedError  # noqa: E402


class _Stub(nn.Module):
    "What sentence-transformers' losses call as `model`: features {'emb': x} -> {'sentence_embedding': x}."
    device = torch.device("cpu")
    def forward(self, features): return {"sentence_embedding": features["emb"]}


def _pairs(seed, b=16, h=24):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, h, generator=g, dtype=torch.float64).float(), torch.randn(b, h, generator=g, dtype=torch.float64).float()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sbert_softmax_loss_equals_sentence_transformers(seed):
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss
    from sembed.sbert import SoftmaxNLILoss
    u, v = _pairs(seed)
    y = torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(seed))
    ours = SoftmaxNLILoss(24)
    theirs = SoftmaxLoss(_Stub(), embedding_dimension=24, num_labels=3)   # default features: (u, v, |u - v|)
    theirs.classifier.load_state_dict(ours.classifier.state_dict())
    a = ours(torch.cat([u, v]), y).item()
    b = theirs([{"emb": u}, {"emb": v}], y).item()
    assert abs(a - b) <= 1e-5 * max(1.0, abs(b)), (a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cosent_loss_equals_sentence_transformers(seed):
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss as STCoSENT
    from sembed.cosent import CoSENTLoss
    u, v = _pairs(seed)
    y = torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(seed)).float()   # ties included
    a = CoSENTLoss(20.0)(torch.cat([u, v]), y).item()
    b = STCoSENT(_Stub(), scale=20.0).compute_loss_from_embeddings([u, v], y).item()
    assert abs(a - b) <= 1e-5 * max(1.0, abs(b)), (a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_angle_loss_equals_sentence_transformers(seed):
    "Our angle term alone (w_cosine = w_ibn = 0) is sentence-transformers' AnglELoss (scale 20); odd sizes are padded alike."
    from sentence_transformers.sentence_transformer.losses import AnglELoss as STAnglE
    from sembed.angle import AnglELoss
    for h in (24, 7):
        u, v = _pairs(seed, h=h)
        y = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(seed)).float()
        a = AnglELoss(0.0, 0.0, 1.0, angle_tau=20.0)(torch.cat([u, v]), y).item()
        b = STAnglE(_Stub(), scale=20.0).compute_loss_from_embeddings([u, v], y).item()
        assert abs(a - b) <= 1e-5 * max(1.0, abs(b)), (h, a, b)


NLI = [("A man plays a guitar.", "A man plays music.", "entailment"), ("A dog runs.", "A cat sleeps.", "contradiction"),
       ("Kids at a park.", "Kids are outside.", "entailment"), ("A woman cooks.", "A woman is at work.", "neutral"),
       ("Two men ride bikes.", "Nobody is riding.", "contradiction"), ("A girl reads.", "A girl has a book.", "entailment")] * 4


@pytest.mark.parametrize("method", ["sbert-nli", "cosent", "angle"])
def test_methods_train_a_tiny_model(tmp_path, method):
    "Two steps through the shared trainer: finite loss, a saved encoder with the method's test pooler, same loss twice."
    from sembed.train import TrainConfig, train
    pooler = "avg" if method == "sbert-nli" else "cls_before_pooler"
    losses = []
    for k in range(2):
        cfg = TrainConfig(method=method, batch_size=6, max_steps=2, learning_rate=1e-3, eval_steps=0, save_steps=0, log_steps=1)
        s = train(cfg, tmp_path / f"m{k}", encoder=tiny_encoder(pooler), examples=NLI, progress=False)
        losses.append([r for r in (tmp_path / f"m{k}" / "train_loss.csv").read_text().splitlines()[1:]])
        assert np.isfinite(s["final_loss"]), s
        assert json.loads((tmp_path / f"m{k}" / "sembed.json").read_text())["method"] == method
    assert losses[0] == losses[1]   # seeded: the same run twice gives the same losses


def _write(p, text): p.write_text(text); return p


def test_wrong_corpus_kind_is_refused(tmp_path):
    "Unlabelled sentences to SBERT: the matrix check names the corpus and the kind before any work."
    from sembed.experiments import get_experiment
    params = {"scale": "smoke", "experiments": {"x": {"method": "sbert-nli", "scales": {"smoke": {
        "model": "minilm-l6", "data": "snli-devtest-sentences"}}}}}
    with pytest.raises(SembedError, match="corpus 'snli-devtest-sentences' holds sentences, method 'sbert-nli' needs nli_pairs"):
        get_experiment(params, "x")


@pytest.mark.parametrize("method", ["sbert-nli", "cosent"])
def test_unknown_label_is_refused_before_training(tmp_path, method):
    from sembed.train import TrainConfig, train
    f = _write(tmp_path / "pairs.csv", "sentence1,sentence2,label\nA man.,A person.,entailment\nA dog.,A cat.,maybe\n")
    with pytest.raises(SembedError, match=r"pairs.csv: line 3: label: unknown value 'maybe'"):
        train(TrainConfig(method=method, train_file=str(f), batch_size=1, max_steps=1), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _train_cli_refuses(tmp_path, capsys, row, msg):
    "`sembed train` of params row `row` (as experiment x): exit 2, one line containing `msg`, no model or results folder."
    import yaml
    from sembed.cli import main
    _write(tmp_path / "params.yaml", yaml.safe_dump({"scale": "smoke", "experiments": {"x": row}}))
    with pytest.raises(SystemExit) as e:
        main(["train", "--experiment", "x", "--params", str(tmp_path / "params.yaml"), "--data", str(tmp_path / "data"),
              "--out", str(tmp_path / "models" / "x"), "--results", str(tmp_path / "results")])
    assert e.value.code == 2
    err = [l for l in capsys.readouterr().err.strip().splitlines() if l.strip()]
    assert len(err) == 1 and msg in err[0], err
    assert not (tmp_path / "models").exists() and not (tmp_path / "results").exists()


def test_cli_bad_label_exits_2_and_writes_nothing(tmp_path, capsys, data_dir):
    "`sembed train` on a corpus file with a label outside entailment/neutral/contradiction: one line, exit 2, no folder."
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "senteval").symlink_to(data_dir / "senteval")
    _write(tmp_path / "data" / "train" / "snli-devtest-pairs.csv", "sentence1,sentence2,label\nA man.,A person.,entailment\nA dog.,A cat.,2\n")
    _train_cli_refuses(tmp_path, capsys, {"method": "cosent", "scales": {"smoke": {
        "model": "minilm-l6", "data": "snli-devtest-pairs", "batch_size": 1, "max_steps": 1}}}, "line 3: label: unknown value '2'")


# --- ESimCSE: an objective with extra state (a momentum encoder and a queue) resumes exactly -------------------

from _tiny import SENTS, saved_weights  # noqa: E402

ES_CFG = dict(method="esimcse", batch_size=4, max_steps=8, learning_rate=1e-3, eval_steps=2, save_steps=2, log_steps=1,
              seed=3, warmup_steps=2, queue_size=6, momentum=0.9, dup_rate=0.5)


_weights = saved_weights


def _interrupted_then_resumed(tmp_path, cfg):
    "Training `cfg` straight (a/), and interrupted after its step-4 checkpoint then resumed (b/); returns the resume call."
    import itertools
    from sembed.train import TrainConfig, train
    count = lambda start=0: (lambda c: (lambda enc: float(next(c))))(itertools.count(start))   # rising dev score: the last is best
    train(TrainConfig(**cfg), tmp_path / "a", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=count(), progress=False)
    calls = itertools.count()
    def interrupt(enc):
        if next(calls) == 2: raise KeyboardInterrupt   # at step 6, after the step-4 checkpoint
        return 0.0
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**cfg), tmp_path / "b", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=interrupt, progress=False)
    return lambda: train(TrainConfig(**cfg), tmp_path / "b", encoder=tiny_encoder("cls_before_pooler", seed=99), examples=SENTS,
                         dev_eval=count(100), progress=False)


def _esimcse_interrupted_then_resumed(tmp_path): return _interrupted_then_resumed(tmp_path, ES_CFG)


def test_esimcse_resume_gives_the_same_final_weights(tmp_path):
    "Interrupted and resumed ESimCSE = uninterrupted ESimCSE, bit for bit: the queue and momentum encoder are checkpointed."
    resume = _esimcse_interrupted_then_resumed(tmp_path)
    ck = torch.load(tmp_path / "b.ckpt" / "last.pt", weights_only=True)
    assert int(ck["objective"]["filled"]) == 6 and ck["objective"]["queue"].abs().sum() > 0
    assert any(k.startswith("momentum_net.") for k in ck["objective"])
    resume()
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (tmp_path / "a" / "train_loss.csv").read_text() == (tmp_path / "b" / "train_loss.csv").read_text()


def test_esimcse_resume_check_can_fail(tmp_path, monkeypatch):
    "The check above can fail: resuming with a fresh queue and momentum encoder changes the final weights."
    import sembed.train as T
    resume = _esimcse_interrupted_then_resumed(tmp_path)
    orig = T._Run._load_weights
    monkeypatch.setattr(T._Run, "_load_weights", lambda self, ck: orig(self, {**ck, "objective": self.objective.state_dict()}))
    resume()
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("bad,msg", [({"queue_size": 0}, "field queue_size: bad value 0"),
                                     ({"queue_size": -3}, "field queue_size: bad value -3"),
                                     ({"momentum": 1.5}, "field momentum: bad value 1.5")])
def test_esimcse_bad_settings_exit_2_before_work(tmp_path, capsys, bad, msg):
    _train_cli_refuses(tmp_path, capsys, {"method": "esimcse", "scales": {"smoke": {
        "model": "minilm-l6", "data": "snli-devtest-sentences", **bad}}}, msg)


# --- DDP: SBERT's classifier lives in the objective, outside the DDP-wrapped net: its gradients are averaged too ----

SB_CFG = dict(method="sbert-nli", batch_size=4, max_steps=3, learning_rate=1e-1, adam_epsilon=1.0, log_steps=1, seed=1,
              save_steps=0, eval_steps=0, max_grad_norm=0.0)
SB_PAIRS = [(SENTS[i], SENTS[(i + 3) % 16], ("entailment", "neutral", "contradiction")[i % 3]) for i in range(16)]


def _sbert_ddp_worker(rank, world, port, out, average=True):
    import os
    import torch.distributed as dist
    import sembed.train as T
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank))
    torch.set_num_threads(1)
    if not average: T._average_grads = lambda params, ws: None   # the bug the test must catch
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        T.train(T.TrainConfig(**SB_CFG), out, encoder=tiny_encoder("avg", dropout=0.0), examples=SB_PAIRS, progress=False)
    finally:
        dist.destroy_process_group()


def _sbert_one_and_two(tmp_path, average=True):
    import socket
    import torch.multiprocessing as mp
    from sembed.train import TrainConfig, train
    train(TrainConfig(**SB_CFG), tmp_path / "one", encoder=tiny_encoder("avg", dropout=0.0), examples=SB_PAIRS, progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    mp.start_processes(_sbert_ddp_worker, args=(2, port, str(tmp_path / "two"), average), nprocs=2, join=True, start_method="spawn")
    w1, w2 = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    w0 = tiny_encoder("avg", dropout=0.0).model.state_dict()
    return w1, w2, max((w1[k] - w0[k]).abs().max().item() for k in w1)


def test_sbert_ddp_matches_single_process(tmp_path):
    "2 gloo processes = 1 process for SBERT: the objective's classifier gradients are averaged across processes."
    from _tol import assert_all_close_rel
    w1, w2, moved = _sbert_one_and_two(tmp_path)
    assert moved > 1e-4
    assert_all_close_rel(w2, w1, rel=1e-5, scale=moved, what="SBERT weights after 3 steps, 2 processes vs 1")


def test_sbert_ddp_check_can_fail(tmp_path):
    "Without the objective's gradient averaging the 2-process weights differ beyond the tolerance above."
    w1, w2, moved = _sbert_one_and_two(tmp_path, average=False)
    assert max((w2[k] - w1[k]).abs().max().item() for k in w1) > 1e-5 * moved


def test_consert_trains_with_its_augmentations_and_is_seeded(tmp_path):
    "ConSERT through the trainer on a tiny model: the augmented views change the loss (vs no augmentation), runs repeat exactly."
    from sembed.train import TrainConfig, train
    def run(name, **kw):
        cfg = TrainConfig(method="consert", length_buckets=1, batch_size=4, max_steps=3, learning_rate=1e-3, eval_steps=0,
                          save_steps=0, log_steps=1, **kw)
        train(cfg, tmp_path / name, encoder=tiny_encoder("avg"), examples=SENTS, progress=False)
        return (tmp_path / name / "train_loss.csv").read_text()
    a, b, plain = run("a"), run("b"), run("plain", views=["none", "none"])
    assert a == b
    assert a != plain          # with dropout off, "none"/"none" views are identical: the loss differs from the augmented one


def test_a_scale_may_override_the_geometry_split():
    "`geometry` in a scale's settings overrides the row's (smoke: STS-B test; paper: the whole of STS-B); bad values refused."
    from sembed.experiments import get_experiment
    row = {"method": "pooler", "geometry": True, "scales": {"smoke": {"model": "minilm-l6", "geometry": "test"}, "paper": {"model": "minilm-l6"}}}
    params = {"scale": "smoke", "experiments": {"x": row}}
    assert get_experiment(params, "x").spec.geometry == "test"
    assert get_experiment({**params, "scale": "paper"}, "x").spec.geometry is True
    bad = {"scale": "smoke", "experiments": {"x": {**row, "scales": {"smoke": {"model": "minilm-l6", "geometry": "val"}}}}}
    with pytest.raises(SembedError, match=r"scales.smoke: field geometry: bad value 'val' \(true, false, or one STS-B split"):
        get_experiment(bad, "x")


# ---- 2D Matryoshka (nbs/33_2dmse)
def _st_and_ours(tmp_path, seed=0):
    "One tiny random BERT as a sentence-transformers model (Transformer + CLS pooling) and as our per-layer encoder."
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from sentence_transformers import SentenceTransformer
    from sembed.matryoshka2d import every_layer
    enc = tiny_encoder("cls_before_pooler", seed=seed, dropout=0.0)
    enc.model.save_pretrained(tmp_path / "tiny"); enc.tokenizer.save_pretrained(tmp_path / "tiny")
    st = SentenceTransformer(modules=[Transformer(str(tmp_path / "tiny")), Pooling(32, pooling_mode="cls")], device="cpu").eval()
    return st, every_layer(enc.eval(), "cls_before_pooler")


@pytest.mark.parametrize("seed", [0, 1])
def test_2dmse_loss_equals_sentence_transformers(tmp_path, seed):
    "Every layer and every dimension (no sampling): our Matryoshka2dLoss over CoSENT is theirs on the same model and batch."
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss as STCoSENT, Matryoshka2dLoss as STM2d
    from sembed.cosent import CoSENTLoss
    from sembed.matryoshka2d import Matryoshka2dLoss
    st, enc = _st_and_ours(tmp_path, seed)
    a = [s for s, _, _ in NLI[:6]]; b = [t for _, t, _ in NLI[:6]]
    y = torch.tensor([2., 0., 2., 1., 0., 2.])
    fa, fb = enc.tokenize(a), enc.tokenize(b)
    for dims, T in (([32, 16, 4], 0.3), ([32, 8], 0.0), ([16, 8], 1.0)):
        theirs = STM2d(st, STCoSENT(st, scale=20.0), dims, n_layers_per_step=-1, n_dims_per_step=-1, kl_temperature=T)
        with torch.no_grad():
            want = theirs([dict(fa), dict(fb)], y).item()
            z = torch.cat([enc(fa), enc(fb)])   # [12, 3, 32]: every hidden state's [CLS]
            got = Matryoshka2dLoss(CoSENTLoss(20.0), dims, n_layers_per_step=-1, n_dims_per_step=-1, kl_temperature=T)(z, y).item()
        assert abs(got - want) <= 1e-5 * max(1.0, abs(want)), (dims, T, got, want)


def test_2dmse_trains_a_tiny_model_and_is_seeded(tmp_path):
    "Two runs with one seed sample the same layers and prefixes: identical losses; the saved model pools the last layer's [CLS]."
    from sembed.train import TrainConfig, train
    runs = []
    for k in range(2):
        cfg = TrainConfig(method="2dmse", dims=[32, 16, 8], batch_size=6, max_steps=3, learning_rate=1e-3, eval_steps=0, save_steps=0, log_steps=1)
        s = train(cfg, tmp_path / f"m{k}", encoder=tiny_encoder("cls_before_pooler"), examples=NLI, progress=False)
        runs.append((tmp_path / f"m{k}.train_loss.csv").read_text() if (tmp_path / f"m{k}.train_loss.csv").exists() else
                    (tmp_path / f"m{k}" / "train_loss.csv").read_text())
        assert s["test_pooler"] == "cls_before_pooler" and np.isfinite(s["final_loss"])
    assert runs[0] == runs[1]


def test_2dmse_prefix_larger_than_the_model_exits_2_and_writes_nothing(tmp_path, capsys, data_dir):
    "dims: [512, 64] on MiniLM (384 dimensions): one line naming the value, exit 2, no model or results folder."
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "senteval").symlink_to(data_dir / "senteval")
    _write(tmp_path / "data" / "train" / "snli-devtest-pairs.csv",
           "sentence1,sentence2,label\n" + "".join(f"{a},{b},{l}\n" for a, b, l in NLI))
    _train_cli_refuses(tmp_path, capsys, {"method": "2dmse", "scales": {"smoke": {
        "model": "minilm-l6", "data": "snli-devtest-pairs", "batch_size": 4, "max_steps": 1, "dims": [512, 64]}}},
        "field dims: bad value 512 (larger than the model's 384 dimensions)")


def test_layer_grid_prefix_larger_than_the_model_exits_2_and_writes_nothing(tmp_path, data_dir):
    "A layer_grid wider than the model: `sembed eval` fails before encoding, one line naming the value, no result file."
    import yaml
    from conftest import error_lines, run_sembed
    row = {"method": "pooler", "layer_grid": [512, 8], "scales": {"smoke": {"model": "minilm-l6", "pooler": "cls_before_pooler", "tasks": ["STS-B"]}}}
    _write(tmp_path / "params.yaml", yaml.safe_dump({"scale": "smoke", "experiments": {"g": row}}))
    common = ["--experiment", "g", "--params", tmp_path / "params.yaml", "--data", data_dir]
    assert run_sembed("train", *common, "--out", tmp_path / "models" / "g", "--results", tmp_path / "results").returncode == 0
    p = run_sembed("eval", *common, "--models", tmp_path / "models", "--out", tmp_path / "results" / "g.json")
    assert p.returncode == 2 and len(error_lines(p)) == 1, p.stderr
    assert "field layer_grid: dimension 512 outside 1..384" in error_lines(p)[0]
    assert not (tmp_path / "results" / "g.json").exists()


# ---- DiffCSE (nbs/34_diffcse): configured, not run here
def test_diffcse_is_configured_not_run(monkeypatch):
    "params.yaml's DiffCSE row is outside `experiments` (no dvc stage), says why, and builds at paper scale where the hub is on."
    from sembed.core import load_params
    from sembed.experiments import configured
    p = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    assert "diffcse-unsup" in p["configured"] and "diffcse-unsup" not in p["experiments"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SembedError, match="needs the Hugging Face hub, which is off here"):
        configured(p)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    why, e = configured(p)["diffcse-unsup"]
    assert "not obtainable offline" in why and e.method.name == "diffcse" and e.compare == "unsup-bert-base"
    assert (e.config.learning_rate, e.config.batch_size, e.config.opts.lambda_weight, e.config.opts.masking_ratio) == (7e-6, 64, 0.005, 0.30)


def test_diffcse_trains_with_a_local_generator_and_resumes(tmp_path):
    """A tiny local MLM as the generator: interrupted after its step-4 checkpoint and resumed (from a differently seeded
    encoder), DiffCSE ends with the straight run's weights and losses: the discriminator, RTD head and draws are restored."""
    from transformers import BertConfig, BertForMaskedLM
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=tiny_encoder().tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=20)).save_pretrained(tmp_path / "gen")
    resume = _interrupted_then_resumed(tmp_path, dict(method="diffcse", generator=str(tmp_path / "gen"), batch_size=4, max_steps=6,
                                                      learning_rate=1e-3, eval_steps=2, save_steps=2, log_steps=1))
    ck = torch.load(tmp_path / "b.ckpt" / "last.pt", weights_only=True)
    assert any(k.startswith("discriminator.") for k in ck["objective"]) and not any(k.startswith("_gen") for k in ck["objective"])
    resume()
    wa, wb = saved_weights(tmp_path / "a"), saved_weights(tmp_path / "b")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (tmp_path / "a" / "train_loss.csv").read_text() == (tmp_path / "b" / "train_loss.csv").read_text()


# ---- Pcc-tuning (nbs/35_pcc-tuning)
def test_pcc_loss_is_one_minus_a_scaled_pearson():
    "The authors' quirk: 1 - (n-1)/n r; without it exactly 1 - r (scipy's Pearson)."
    from scipy.stats import pearsonr
    from sembed.pcc_tuning import PccLoss
    u, v = _pairs(0, b=12)
    y = torch.linspace(0, 5, 12)
    r = pearsonr(torch.nn.functional.cosine_similarity(u, v).numpy(), y.numpy())[0]
    assert abs(PccLoss(unbiased_var=False)(torch.cat([u, v]), y).item() - (1 - r)) <= 1e-5
    assert abs(PccLoss()(torch.cat([u, v]), y).item() - (1 - 11 / 12 * r)) <= 1e-5


@pytest.mark.parametrize("text,msg", [("sentence1,sentence2,score\nA man.,A person.,4.5\nA dog.,A cat.,high\n", "line 3: score: bad value 'high'"),
                                      ("sentence1,sentence2,label\nA man.,A person.,entailment\n", "sentence1,sentence2,score")])
def test_pcc_bad_scores_exit_2_and_write_nothing(tmp_path, capsys, data_dir, text, msg):
    "A score that is not a number (or an NLI file given as scored pairs): one line naming it, exit 2, no folder."
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "senteval").symlink_to(data_dir / "senteval")
    _write(tmp_path / "data" / "train" / "stsb-sickr-train.csv", text)
    _train_cli_refuses(tmp_path, capsys, {"method": "pcc-tuning", "scales": {"smoke": {
        "model": "minilm-l6", "data": "stsb-sickr-train", "batch_size": 2, "max_steps": 1}}}, msg)


def test_lora_resume_gives_the_same_final_weights(tmp_path):
    """LoRA (TrainConfig.lora): interrupted after its step-4 checkpoint and resumed, the run ends with the straight run's
    merged weights; the checkpoint holds the adapters, the saved folder does not."""
    resume = _interrupted_then_resumed(tmp_path, dict(batch_size=4, max_steps=6, learning_rate=1e-2, eval_steps=2, save_steps=2,
                                                      log_steps=1, seed=3, lora={"r": 4, "alpha": 8.0, "dropout": 0.1}))
    ck = torch.load(tmp_path / "b.ckpt" / "last.pt", weights_only=True)
    assert any("lora_A" in k for k in ck["model"])
    resume()
    wa, wb = saved_weights(tmp_path / "a"), saved_weights(tmp_path / "b")
    assert wa.keys() == wb.keys() and not any("lora" in k for k in wa) and all(torch.equal(wa[k], wb[k]) for k in wa)
    w0 = tiny_encoder("cls_before_pooler").model.state_dict()
    assert torch.equal(wa["embeddings.word_embeddings.weight"], w0["embeddings.word_embeddings.weight"])   # frozen, no adapter
    assert not torch.equal(wa["encoder.layer.0.attention.self.query.weight"], w0["encoder.layer.0.attention.self.query.weight"])


def test_pcc_prompt_rows_of_params():
    "The SmolLM2 Pcc-tuning pair: LoRA r 64 / alpha 16 / dropout 0.05 (the authors' code), the authors' prompt, a prompt baseline."
    from sembed.core import load_params
    from sembed.experiments import experiments
    from sembed.pcc_tuning import PCC_TEMPLATE
    exps = experiments(load_params(Path(__file__).resolve().parents[1] / "params.yaml"), "smoke")
    e, b = exps["pcc-prompt-lora"], exps["pcc-prompt-base"]
    assert e.spec.baseline == b.id and e.model == b.model == "smollm2-135m" and e.pairs == b.pairs and e.tasks == b.tasks
    assert (e.config.lora.r, e.config.lora.alpha, e.config.lora.dropout, e.config.lora.target) == (64, 16.0, 0.05, "all-linear")
    assert e.config.opts.template == b.config.template == PCC_TEMPLATE and e.config.pooler == "last_token"


def test_pcc_prompt_on_an_encoder_only_model_exits_2_and_writes_nothing(tmp_path, capsys, data_dir):
    "pcc-tuning-prompt asked of MiniLM: refused from its configuration, before any weights are loaded; one line, exit 2, no folder."
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "senteval").symlink_to(data_dir / "senteval")
    _write(tmp_path / "data" / "train" / "stsb-sickr-train.csv",
           "sentence1,sentence2,score\nA man.,A person.,4.5\nA dog.,A cat.,1.0\n")
    _train_cli_refuses(tmp_path, capsys, {"method": "pcc-tuning-prompt", "scales": {"smoke": {
        "model": "minilm-l6", "data": "stsb-sickr-train", "batch_size": 2, "max_steps": 1, "max_length": 128}}},
        "is encoder-only")


# ---- PromptBERT, trained (nbs/18_promptbert)
def test_promptbert_unsup_length_buckets_exit_2_before_work(tmp_path, capsys):
    "The two template views are the batch's halves: length_buckets other than 1 is one line, exit 2, nothing written."
    _train_cli_refuses(tmp_path, capsys, {"method": "promptbert-unsup", "scales": {"smoke": {
        "model": "minilm-l6", "data": "snli-devtest-sentences", "batch_size": 4, "max_steps": 1, "length_buckets": 4}}},
        "field length_buckets: bad value 4")


def test_promptbert_unsup_trains_and_evaluates_through_its_template(tmp_path):
    "Dev evaluation and the saved model's vectors are view 1's [MASK] state (prompt_embed on the trained weights)."
    from sembed.encoders import SentenceEncoder
    from sembed.promptbert import prompt_embed
    from sembed.train import TrainConfig, train
    seen = []
    def dev(enc):
        seen.append(enc.encode(SENTS[:3])); return 0.0
    cfg = TrainConfig(method="promptbert-unsup", batch_size=4, max_steps=2, learning_rate=1e-3, eval_steps=0, save_steps=0,
                      log_steps=1, length_buckets=1)
    train(cfg, tmp_path / "m", encoder=tiny_encoder("cls_before_pooler"), examples=SENTS, dev_eval=dev, progress=False)
    saved = SentenceEncoder.from_pretrained(str(tmp_path / "m"))
    want = prompt_embed(saved, SENTS[:3], 'This sentence of "[X]" means [MASK] .', progress=False)
    assert np.abs(seen[-1] - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_promptbert_unsup_rows_run_in_the_pipeline():
    "The trained PromptBERT pair is in `experiments` (a dvc stage each), tested against its view-1 before-training row."
    from sembed.core import load_params
    from sembed.experiments import experiments
    p = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    assert not {"promptbert-view1", "promptbert-unsup"} & set(p.get("configured") or {})
    e = experiments(p, "smoke")["promptbert-unsup"]
    assert e.method.name == "promptbert-unsup" and e.config.length_buckets == 1 and e.spec.baseline == "promptbert-view1"
