"""Methods as plugins: a toy method defined here (no notebook), registered through params.yaml `plugins:`, gains
its row (train + eval) and report stages in a temporary copy of the project with NO edit to dvc.yaml; the trainer trains it
and the evaluator scores it, through `dvc repro` as the pipeline runs it."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest, yaml
from conftest import ROOT, MIRROR

BIN = Path(sys.executable).parent

TOY_PLUGIN = '''
"""A toy training method for the plugin test: mean squared distance between two dropout views."""
import torch.nn.functional as F
from torch import nn
from sembed.methods import Method, Options, register

class ToyOptions(Options):
    weight: float = 1.0

class ToyLoss(nn.Module):
    "weight * mean((h_i - h_i+)^2) over the two dropout views of each sentence."
    def __init__(self, o): super().__init__(); self.weight = o.weight
    def forward(self, z):
        b = z.shape[0] // 2
        return self.weight * F.mse_loss(z[:b], z[b:])

register(Method("toy-mse", "toy", "train", "toy: MSE between two dropout views", options=ToyOptions,
                corpus="sentences", view=lambda batch, o: (list(batch) * 2, None), objective=ToyLoss, train_pooler="avg"))
'''

TOY_PAPER = {"title": "A toy paper", "authors": ["Nobody"], "year": 2026, "venue": "nowhere", "arxiv": "0000.00000",
             "version": "test fixture", "protocol": "senteval", "metric": "Spearman x100",
             "tasks": ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R"],
             "reported": {"toy-row": {"table": "Table 1", "source": "paper-table", "method": "toy-mse", "base_model": "tiny-bert",
                                      "scores": {"STS12": 10.0, "STS13": 10.0, "STS14": 10.0, "STS15": 10.0, "STS16": 10.0,
                                                 "STS-B": 10.0, "SICK-R": 10.0, "avg": 10.0}}},
             "hyperparameters": {"source": "test fixture", "common": {"temperature": {"value": 0.05, "cite": "none"}}}}


def _dvc(copy, *args, check=True):
    env = {**os.environ, "PYTHONPATH": str(copy), "SEMBED_MIRROR": str(MIRROR), "PATH": str(BIN) + os.pathsep + os.environ["PATH"],
           "SEMBED_CACHE_DIR": str(copy / ".cache")}
    p = subprocess.run([str(BIN / "dvc"), *args], cwd=copy, capture_output=True, text=True, env=env)
    if check: assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


@pytest.fixture(scope="module")
def project(tmp_path_factory, mirror):
    "A copy of the project's tracked files (its own git repo), with the toy plugin, a tiny model and params entries."
    copy = tmp_path_factory.mktemp("proj") / "proj"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (copy / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT / f, copy / f)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    (copy / "toy_plugin.py").write_text(TOY_PLUGIN)
    sys.path.insert(0, str(Path(__file__).parent))
    from _tiny import tiny_encoder
    tiny_encoder("avg").save_pretrained(copy / "tiny-bert")
    reg = copy / "sembed" / "resources" / "papers.yaml"
    r = yaml.safe_load(reg.read_text()); r["papers"]["toy"] = TOY_PAPER
    reg.write_text(yaml.safe_dump(r, sort_keys=False))
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["plugins"] = ["toy_plugin"]
    params["papers"] = params["papers"] + ["toy"]
    params["experiments"]["toy-run"] = {"paper": "toy", "method": "toy-mse", "scales": {"smoke": {
        "model": str(copy / "tiny-bert"), "compare": "toy-row", "data": "snli-devtest-sentences", "batch_size": 8,
        "max_steps": 3, "learning_rate": 1.0e-3, "eval_steps": 0, "save_steps": 0, "weight": 2.0}}}
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return copy


@pytest.mark.slow
def test_toy_plugin_gains_stages_and_runs(project):
    assert (project / "dvc.yaml").read_bytes() == (ROOT / "dvc.yaml").read_bytes()   # no edit to dvc.yaml
    dag = _dvc(project, "dag").stdout
    for stage in ["row@toy-run", "reports"]:
        assert stage in dag, stage
    status = _dvc(project, "status").stdout
    assert "row@toy-run" in status and "reports" in status
    p = subprocess.run([str(BIN / "sembed"), "methods", "--markdown"], cwd=project, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(project)})
    assert p.returncode == 0 and "| toy-mse | toy | train |" in p.stdout, p.stdout + p.stderr
    _dvc(project, "repro", "row@toy-run")                                    # download -> prepare -> row (train, then eval)
    summary = json.loads((project / "results" / "toy-run.train.json").read_text())
    assert summary["method"] == "toy-mse" and summary["steps"] == 3 and summary["config"]["options"] == {"weight": 2.0}
    loss = (project / "results" / "toy-run.train_loss.csv").read_text().splitlines()
    assert loss[0] == "step,loss,lr" and len(loss) == 2                       # 3 steps, logged every 10 (and at the end)
    res = json.loads((project / "results" / "toy-run.json").read_text())
    assert res["method"] == "toy-mse" and res["scale"] == "smoke" and res["compare"] == "toy-row"
    assert set(res["tasks"]) == {"STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R"}
    assert json.loads((project / "models" / "toy-run" / "sembed.json").read_text())["method"] == "toy-mse"


def test_readme_method_table_is_generated_from_the_registry():
    "The README's method table is `sembed methods` output, not a hand-kept copy (`invoke readme` rewrites it)."
    from sembed.cli import markdown_table, method_table
    from sembed.core import load_params
    text = (ROOT / "README.md").read_text()
    a = text.index("<!-- methods:begin (invoke readme) -->") + len("<!-- methods:begin (invoke readme) -->")
    block = text[a:text.index("<!-- methods:end -->")].strip()
    assert block == markdown_table(method_table(load_params(ROOT / "params.yaml"))), "stale README table: run `invoke readme`"


def test_every_method_in_params_is_registered_once():
    "Method names live in the registry only: every experiment's method resolves, and `sembed methods` lists each once."
    from sembed.core import load_params
    from sembed.experiments import experiments
    from sembed.methods import methods
    exps = experiments(load_params(ROOT / "params.yaml"))
    assert {e.method.name for e in exps.values()} <= set(methods())
    assert [m for m in methods()] == sorted(set(methods()))
