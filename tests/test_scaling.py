"""Scaling out, at smoke size (nbs/15_scaling.ipynb): the DVC experiment queue runs experiments in parallel,
and `torchrun` trains with 2 data-parallel processes on CPU (gloo)."""
import hashlib, json, os, re, subprocess, sys, time
from pathlib import Path
import pytest, yaml
from conftest import ROOT
from _tiny import SENTS, tiny_encoder

BIN = Path(sys.executable).parent
TESTS = Path(__file__).resolve().parent


def _env(**extra):
    return {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ["PATH"], "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]), **extra}


def _run(args, cwd, timeout=300, check=True):
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=_env(), timeout=timeout)
    if check: assert p.returncode == 0, f"{' '.join(map(str, args))}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


# --- the DVC experiment queue -------------------------------------------------------------------------

DVC_YAML = """stages:
  eval:
    cmd: sembed eval --model {model} --pooler ${{pooler}} --tasks STS-B --data {data} --out results/eval.json
    params: [pooler]
    metrics:
      - results/eval.json:
          cache: false
"""


def _queue_status(proj):
    "{experiment name: status} from `dvc queue status`."
    out = _run([BIN / "dvc", "queue", "status"], proj).stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"^\w+\s+(\S+)\s+.*?\s(Queued|Running|Success|Failed)\s*$", out, re.M)}


@pytest.mark.slow
def test_dvc_queue_runs_experiments_in_parallel(tmp_path):
    "Two queued experiments (-S pooler=avg / cls) run by `dvc queue start --jobs 2`; `dvc exp show` has both results."
    from sembed.data import write_toy_data
    model, data, proj = tmp_path / "tiny-bert", tmp_path / "data", tmp_path / "proj"
    tiny_encoder("avg").save_pretrained(model)
    write_toy_data(data)
    proj.mkdir()
    (proj / "params.yaml").write_text("pooler: avg\n")
    (proj / "dvc.yaml").write_text(DVC_YAML.format(model=model, data=data))
    for cmd in (["git", "init", "-q"], ["git", "config", "user.email", "test@example.org"], ["git", "config", "user.name", "test"],
                [BIN / "dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "tiny project"]):
        _run(cmd, proj)
    for pooler in ("avg", "cls"):
        _run([BIN / "dvc", "exp", "run", "--queue", "-n", f"q-{pooler}", "-S", f"pooler={pooler}"], proj)
    assert _queue_status(proj) == {"q-avg": "Queued", "q-cls": "Queued"}
    t0 = time.time()
    try:
        p = _run([BIN / "dvc", "queue", "start", "--jobs", "2"], proj)
        assert "Started '2' new experiments task queue workers" in p.stdout + p.stderr
        while True:
            status = _queue_status(proj)
            if not any(s in ("Queued", "Running") for s in status.values()): break
            assert time.time() - t0 < 240, f"queue still running after 240 s: {status}"
            time.sleep(3)                              # each `dvc queue status` costs a DVC start-up: poll gently
    finally:
        _run([BIN / "dvc", "queue", "stop"], proj, check=False)
    if status != {"q-avg": "Success", "q-cls": "Success"}:
        pytest.fail(f"{status}\n" + "\n".join(_run([BIN / "dvc", "queue", "logs", n], proj, check=False).stdout[-2000:] for n in status))
    shown = json.loads(_run([BIN / "dvc", "exp", "show", "--json"], proj).stdout)
    got = {}
    for base in shown:
        for e in base.get("experiments") or []:
            d = e["revs"][0]["data"]
            got[e["name"]] = (d["params"]["params.yaml"]["data"]["pooler"], d["metrics"]["results/eval.json"]["data"])
    assert sorted(got) == ["q-avg", "q-cls"]
    # each experiment scored its own pooler, and equals the same evaluation run here
    from sembed.encoders import SentenceEncoder
    from sembed.evaluate import evaluate_sts
    for name, (pooler, res) in got.items():
        assert name == f"q-{pooler}" and res["pooler"] == pooler
        enc = SentenceEncoder.from_pretrained(str(model), pooler=pooler)
        direct = evaluate_sts(enc.encode, protocol="senteval", tasks=["STS-B"], root=data)
        assert res["tasks"]["STS-B"]["spearman"] == pytest.approx(direct["tasks"]["STS-B"]["spearman"], abs=1e-6)
    assert got["q-avg"][1]["avg"] != got["q-cls"][1]["avg"]
    assert not (proj / "results").exists()            # the workspace is untouched: experiments ran in their own copies


# --- torchrun: 2 data-parallel processes on CPU ----------------------------------------------------------

ENTRY = '''"""Entry script run by torchrun: train a tiny model, then write this process's view of the run."""
import hashlib, json, os, sys
from _tiny import SENTS, tiny_encoder
from sembed.train import train

def checksum(sd):
    h = hashlib.sha256()
    for k in sorted(sd): h.update(k.encode()); h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()

out, rank = sys.argv[1], int(os.environ["RANK"])
enc = tiny_encoder("cls_before_pooler")                      # the same random init on every process (seeded)
calls = []
def dev(e):                                                  # a rising dev score: the last step is the best
    calls.append(1); return float(len(calls))
cfg = dict(method="simcse-unsup", batch_size=8, max_steps=4, learning_rate=1e-3, eval_steps=2, save_steps=2, log_steps=1, seed=3)
s = train(cfg, out, encoder=enc, examples=SENTS, dev_eval=dev, progress=False)
with open(f"{out}.rank{rank}.json", "w") as f:
    json.dump({"world": int(os.environ["WORLD_SIZE"]), "sha256": checksum(enc.model.state_dict()),
               "summary": s, "dev_calls": len(calls)}, f)
'''


def _checksum(sd):
    h = hashlib.sha256()
    for k in sorted(sd): h.update(k.encode()); h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_torchrun_two_processes(tmp_path):
    "torchrun --nproc_per_node 2 (gloo): exit 0, rank 0 alone writes the model and logs, both ranks end with the same weights."
    (tmp_path / "entry.py").write_text(ENTRY)
    out = tmp_path / "model"
    _run([BIN / "torchrun", "--standalone", "--nproc_per_node", "2", tmp_path / "entry.py", out], tmp_path)
    r0, r1 = (json.loads((tmp_path / f"model.rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["sha256"] == r1["sha256"]                                   # DDP kept the processes in step
    assert r0["sha256"] != _checksum(tiny_encoder("cls_before_pooler").model.state_dict())   # and training moved the weights
    assert r0["dev_calls"] == 2 and r1["dev_calls"] == 0                  # dev evaluation on rank 0 only (steps 2 and 4)
    assert r0["summary"]["world_size"] == 2 and r0["summary"]["steps"] == 4 and r0["summary"]["best_step"] == 4
    assert r1["summary"] is None
    # only rank 0 wrote outputs: the model folder with its logs; the checkpoint folder is gone after the run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.py", "model", "model.rank0.json", "model.rank1.json"]
    assert {"model.safetensors", "sembed.json", "train_loss.csv", "dev.csv", "train.json"} <= {p.name for p in out.iterdir()}
    loss = (out / "train_loss.csv").read_text().splitlines()
    assert loss[0] == "step,loss,lr" and len(loss) == 5
    from safetensors.torch import load_file
    assert _checksum(load_file(str(out / "model.safetensors"))) == r0["sha256"]   # the saved model is the trained one


def _tiny_experiment(tmp_path):
    "A project folder with one training experiment on a tiny random BERT, toy STS data and a 16-sentence corpus."
    from sembed.data import write_toy_data
    tiny_encoder("cls_before_pooler").save_pretrained(tmp_path / "tiny-bert")
    write_toy_data(tmp_path / "data")
    (tmp_path / "data" / "train").mkdir()
    (tmp_path / "data" / "train" / "wiki1m_for_simcse.txt").write_text("\n".join(SENTS) + "\n")
    params = {"seed": 1, "scale": "smoke", "experiments": {"tiny-unsup": {"method": "simcse-unsup", "scales": {"smoke": {
        "model": str(tmp_path / "tiny-bert"), "data": "wiki1m_for_simcse", "batch_size": 8, "max_steps": 3,
        "learning_rate": 1.0e-3, "eval_steps": 0, "save_steps": 0, "log_steps": 1}}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_torchrun_sembed_train(tmp_path):
    "The documented command: torchrun --nproc_per_node 2 $(which sembed) train --experiment ID ... (CPU, gloo)."
    _tiny_experiment(tmp_path)
    _run([BIN / "torchrun", "--standalone", "--nproc_per_node", "2", BIN / "sembed", "train", "--experiment", "tiny-unsup",
          "--params", "params.yaml", "--data", "data", "--out", "models/tiny-unsup", "--results", "results"], tmp_path)
    assert (tmp_path / "models" / "tiny-unsup" / "model.safetensors").exists()
    s = json.loads((tmp_path / "results" / "tiny-unsup.train.json").read_text())
    assert s["world_size"] == 2 and s["steps"] == 3 and s["experiment"] == "tiny-unsup"
    assert len((tmp_path / "results" / "tiny-unsup.train_loss.csv").read_text().splitlines()) == 4
    assert (tmp_path / "results" / "tiny-unsup.dev.csv").read_text().splitlines()[1].startswith("3,")   # dev at the end
