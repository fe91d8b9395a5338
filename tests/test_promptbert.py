"""PromptBERT rows (sembed.promptbert): bad settings are refused through the command line before any work, with one
line naming the value and nothing written; a row on a tiny model builds and evaluates (the real MiniLM rows run in the
pipeline: results/promptbert-*.json)."""
import json, sys
from pathlib import Path
import numpy as np, pytest, yaml
from conftest import ROOT, run_sembed, error_lines

sys.path.insert(0, str(Path(__file__).parent))

TEMPLATE = 'This sentence : "[X]" means [MASK] .'


def _project(tmp_path, settings, model=None):
    "Params with one PromptBERT row 'p' on `model` (default: a tiny BERT with the real MiniLM tokenizer, hidden size 32)."
    if model is None:
        from _tiny import tiny_encoder
        model = tmp_path / "tiny"
        tiny_encoder("avg").save_pretrained(model)
    params = {"seed": 1, "scale": "smoke", "papers": ["promptbert"],
              "experiments": {"p": {"paper": "promptbert", "method": "promptbert",
                                    "scales": {"smoke": {"model": str(model), **settings}}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _train(p):
    return run_sembed("train", "--experiment", "p", "--params", p / "params.yaml", "--data", p / "data",
                      "--out", p / "models" / "p", "--results", p / "results", cwd=p)


@pytest.mark.parametrize("settings,msg", [   # the other bad settings (repeated slots, types, unknown fields): nbs/18_promptbert.ipynb
    ({"template": "It means [MASK] ."}, "field template: bad value 'It means [MASK] .' (Value error, needs [X] exactly once (found 0))"),
    ({"template": "[X] means nothing ."}, "field template: bad value '[X] means nothing .' (Value error, needs [MASK] exactly once (found 0))"),
])
def test_bad_promptbert_settings_refused(tmp_path, settings, msg):
    p = _project(tmp_path, settings, model="minilm-l6")   # refused when params are read: no model is loaded
    r = _train(p)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = error_lines(r)
    assert len(lines) == 1 and msg in lines[0] and "experiments.p.scales.smoke" in lines[0], r.stderr[-2000:]
    assert not (p / "models" / "p").exists() and not (p / "results" / "p.train.json").exists()


def test_template_too_long_for_the_model_refused(tmp_path):
    "check() runs when the row is built, before any encoding: the tiny model's max_length 32 leaves no room."
    p = _project(tmp_path, {"template": " ".join(["word"] * 30) + " [X] [MASK] ."})
    r = _train(p)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = error_lines(r)
    assert len(lines) == 1 and "leave no room for the sentence in max_length 32" in lines[0], r.stderr[-2000:]
    assert not (p / "models" / "p").exists() and not (p / "results" / "p.train.json").exists()


def test_promptbert_row_builds_and_evaluates(tmp_path, data_dir):
    "A tiny-model row, denoised (the plain [MASK] states are its first step): spec written, STS-B dev scored through the experiment."
    for denoise in (True,):
        p = _project(tmp_path / str(denoise), {"template": TEMPLATE, "denoise": denoise})
        (p / "data").symlink_to(data_dir)
        r = _train(p)
        assert r.returncode == 0, r.stderr[-2000:]
        spec = json.loads((p / "models" / "p" / "sembed.json").read_text())
        assert spec["options"] == {"template": TEMPLATE, "denoise": denoise} and spec["trained"] is False
        r = run_sembed("eval", "--experiment", "p", "--params", p / "params.yaml", "--data", p / "data", "--models", p / "models",
                       "--split", "dev", "--tasks", "STS-B", "--out", p / "r.json", cwd=p)
        assert r.returncode == 0, r.stderr[-2000:]
        res = json.loads((p / "r.json").read_text())
        assert np.isfinite(res["tasks"]["STS-B"]["spearman"]) and res["method"] == "promptbert"
