"""The `sembed` command's conventions as transcripts (issue 31, point 8): `--version`; every option with help text, its
default and its choices; an unknown name is one line with 'did you mean' and a short list; `sembed methods` fits the
terminal (markdown with `--markdown`); `--batch-size 0` is refused before any weights load; errors name the params file
actually read; the missing-data hint is a command; every command that writes a result says where. And point 2:
`invoke repro --paper ID` (dry run, a bad id, a bad scale). Fast: no pipeline run, tiny model and data."""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest, yaml
import sembed
from conftest import ROOT, error_lines, run_sembed

INVOKE = str(Path(sys.executable).parent / "invoke")


def one_error(p, *must):
    "Exit status 2 and exactly one `sembed: error:` line, holding each of `must`; that line."
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, (p.returncode, p.stderr[-2000:])
    for s in must: assert s in lines[0], lines[0]
    return lines[0]


def test_version():
    p = run_sembed("--version", process=True)   # the console script itself
    assert p.returncode == 0 and p.stdout == f"sembed {sembed.__version__}\n", (p.stdout, p.stderr)


def test_help_shows_defaults_and_choices():
    p = run_sembed("eval", "--help")
    assert p.returncode == 0, p.stderr
    for s in ["(default: 128)", "(default: params.yaml)", "{senteval,mteb,transfer}", "{test,dev}",
              "avg_first_last", "avg_layers_<i>_<j>"]:
        assert s in p.stdout, (s, p.stdout)
    from sembed.cli import build_parser
    sub = build_parser()._subparsers._group_actions[0].choices
    silent = [(name, a.option_strings[0]) for name, s in sub.items() for a in s._actions if a.option_strings and not a.help]
    assert silent == [], silent   # every option says what it is


@pytest.fixture()
def p_yaml(tmp_path):
    "A params file named p.yaml (a copy of params.yaml), edited by the test."
    def make(edit=lambda p: None):
        p = yaml.safe_load((ROOT / "params.yaml").read_text()); edit(p)
        f = tmp_path / "p.yaml"; f.write_text(yaml.safe_dump(p, sort_keys=False)); return f
    return make


@pytest.mark.parametrize("args,must", [
    (["eval", "--experiment", "simcse-unsp"], ["unknown experiment 'simcse-unsp': did you mean 'simcse-unsup'?", " in all: "]),
    (["report", "--paper", "simcs"], ["unknown paper id 'simcs': did you mean 'simcse'?", "20 in all"]),
    (["eval", "--model", "minilm-l6", "--pooler", "avg_firstlast"], ["unknown pooler 'avg_firstlast': did you mean 'avg_first_last'?"]),
    (["eval", "--model", "minilm-l6", "--tasks", "STS12", "STS-b"], ["unknown task 'STS-b': did you mean 'STS-B'?"]),
    (["eval", "--model", "minilm-l6", "--protocol", "mtb"], ["--protocol: unknown protocol 'mtb': did you mean 'mteb'?"]),
    (["evl"], ["unknown command 'evl': did you mean 'eval'?"]),
])
def test_did_you_mean(tmp_path, args, must):
    out = tmp_path / "r.json"
    p = run_sembed(*args, *(["--out", out] if args[0] == "eval" else ["--root", tmp_path] if args[0] == "report" else []))
    line = one_error(p, *must)
    assert line.count(", ") <= 12 and len(line) < 400, line   # a short list, not every id
    assert not out.exists() and not (tmp_path / "reports").exists()


def test_did_you_mean_method_names_the_params_file(p_yaml, tmp_path):
    f = p_yaml(lambda p: p["experiments"]["simcse-unsup"].update(method="simcse-unsp"))
    p = run_sembed("eval", "--experiment", "simcse-unsup", "--params", f, "--out", tmp_path / "r.json")
    one_error(p, f"{f}: experiments.simcse-unsup: method: unknown method 'simcse-unsp': did you mean 'simcse-unsup'?", "`sembed methods`")


def test_methods_fit_the_terminal_and_markdown():
    p = run_sembed("methods", env={"COLUMNS": "100"})
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and lines[0].split()[:3] == ["method", "paper", "kind"], p.stdout[:500] + p.stderr[-1000:]
    assert max(map(len, lines)) <= 100 and not any(l.startswith("|") for l in lines), max(lines, key=len)
    from sembed.cli import markdown_table, method_table
    from sembed.core import load_params
    md = run_sembed("methods", "--markdown", env={"COLUMNS": "100"})
    assert md.returncode == 0 and md.stdout == markdown_table(method_table(load_params(ROOT / "params.yaml"))) + "\n"
    for m in ("simcse-unsup", "bert-whitening", "prompteol"): assert any(l.startswith(m + " ") for l in lines), m


@pytest.mark.parametrize("args", [["eval", "--model", "minilm-l6", "--batch-size", "0", "--out", "r.json"],
                                  ["run", "--experiment", "minilm-avg", "--batch-size", "-1"],
                                  ["geometry", "--models", "a=minilm-l6", "--batch-size", "0", "--out", "g.json"]])
def test_batch_size_zero_refused_before_any_model_loads(monkeypatch, tmp_path, args):
    from sembed.encoders import SentenceEncoder
    def no_load(*a, **k): raise AssertionError("weights loaded")
    monkeypatch.setattr(SentenceEncoder, "from_pretrained", no_load)
    p = run_sembed(*args, cwd=tmp_path)
    one_error(p, "--batch-size", "a positive integer")
    assert list(tmp_path.iterdir()) == []


def test_params_file_named_in_its_errors(p_yaml, tmp_path):
    f = p_yaml(lambda p: p.update(plugins=["no_such_plugin_module"]))
    one_error(run_sembed("check-params", "--params", f), f"{f}: plugins: cannot import 'no_such_plugin_module'")
    f = p_yaml(lambda p: p["eval"].update(batch_size=0))
    one_error(run_sembed("run", "--experiment", "minilm-avg", "--params", f, "--results", tmp_path / "res", "--models", tmp_path / "m"),
              f"{f}: eval: field batch_size: bad value 0")
    assert not (tmp_path / "res").exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("protocol,missing", [("senteval", "STS12-en-test"), ("mteb", "test.jsonl.gz")])
def test_missing_data_hint_is_a_command(tmp_path, protocol, missing):
    data = tmp_path / "nodata"
    p = run_sembed("eval", "--model", "minilm-l6", "--protocol", protocol, "--tasks", "STS12", "--data", data, "--out", tmp_path / "r.json")
    one_error(p, missing, f"file not found (run `sembed download --out {data}` first)")


def test_eval_says_where_it_wrote(tmp_path):
    "On the toy STS data (a few dozen pairs): MiniLM loads in about a second, faster here than building the tiny model."
    from sembed.data import write_toy_data
    data, out = write_toy_data(tmp_path / "data"), tmp_path / "res" / "r.json"
    p = run_sembed("eval", "--model", "minilm-l6", "--tasks", "STS12", "STS-B", "--data", data, "--out", out, env={"SEMBED_CACHE": "off"})
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.splitlines()[-1] == f"sembed eval: wrote {out}" and out.exists(), p.stdout


# ---- invoke repro --paper ID (point 2): in a copy of tasks.py and params.yaml, so that nothing can touch the checkout

def _invoke(tmp_path, *args):
    for f in ("tasks.py", "params.yaml"):
        if not (tmp_path / f).exists(): shutil.copy2(ROOT / f, tmp_path / f)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([INVOKE, "repro", *args], cwd=tmp_path, capture_output=True, text=True, env=env)


def test_repro_paper_dry_run(tmp_path):
    p = _invoke(tmp_path, "--paper", "whitening-not-recommended", "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    cmds = [l[2:] for l in p.stdout.splitlines() if l.startswith("$ ")]
    targets = cmds[0].split()[2:]
    assert cmds[0].startswith("dvc repro ") and cmds[1] == "sembed report --paper whitening-not-recommended", cmds
    assert {"row@wnr-minilm-avg", "row@minilm-avg", "row@smollm2-last-token", "transfer@wnr-minilm-avg"} <= set(targets), targets
    assert not any(t.startswith("row@simcse") for t in targets) and "(dry run: nothing run)" in p.stdout
    stages = set(subprocess.run([str(Path(sys.executable).parent / "dvc"), "stage", "list", "--name-only"], cwd=ROOT,
                                capture_output=True, text=True).stdout.split())
    assert set(targets) <= stages, set(targets) - stages   # real DVC stage names
    assert not (tmp_path / ".dvc").exists() and not (tmp_path / "reports").exists()


def test_repro_paper_full_scale_dry_run(tmp_path):
    "--scale full: the committed-evidence path (`invoke measure`), after the matrix is checked at full (SimCSE's rows only: fast)."
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["experiments"] = {k: v for k, v in p["experiments"].items() if v.get("paper") == "simcse"}
    p.update(papers=["simcse"], configured={}); p["transfer"]["experiments"] = ["simcse-unsup"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    full = _invoke(tmp_path, "--paper", "simcse", "--scale", "full", "--dry-run")
    assert full.returncode == 0, full.stdout + full.stderr
    cmds = [l[2:] for l in full.stdout.splitlines() if l.startswith("$ ")]
    assert cmds == ["invoke measure --scale full --rows simcse-base-cls-before-pooler,simcse-base-cls,simcse-unsup,simcse-sup",
                    "sembed report --paper simcse"], full.stdout
    assert not (tmp_path / ".dvc").exists() and not (tmp_path / "measured").exists()


def test_repro_bad_paper_and_bad_scale_refused(tmp_path):
    p = _invoke(tmp_path, "--paper", "simcs")
    lines = p.stderr.strip().splitlines()
    assert p.returncode != 0 and len(lines) == 1 and "unknown paper id 'simcs': did you mean 'simcse'?" in lines[0], p.stderr
    before = (tmp_path / "params.yaml").read_bytes()
    p = _invoke(tmp_path, "--paper", "simcse", "--scale", "huge")
    assert p.returncode != 0 and "unknown scale 'huge'" in p.stderr and "params.yaml unchanged" in p.stderr, p.stdout + p.stderr
    assert (tmp_path / "params.yaml").read_bytes() == before and not (tmp_path / ".dvc").exists()
