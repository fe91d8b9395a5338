"""`sembed eval --protocol transfer` end to end on a tiny made-up copy of the transfer tasks and a tiny random
model: the STS result schema with accuracies, the same numbers on a second run, and bad transfer data refused
with one line naming the file and line, exit status 2 and no output written."""
import json
from pathlib import Path
import pytest
from conftest import run_sembed
from test_cli import assert_clean_failure
from sembed.transfer import TRANSFER_TASKS, write_toy_transfer


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from _tiny import tiny_encoder
    d = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    tiny_encoder(pooler="avg").save_pretrained(d)
    return d


@pytest.fixture()
def toy(tmp_path):
    return write_toy_transfer(tmp_path / "data")


def _eval(data, out, model="minilm-l6", *extra, params="none.yaml"):
    return run_sembed("eval", "--model", model, "--pooler", "avg", "--protocol", "transfer", "--data", data,
                      "--params", params, "--out", out, *extra, env={"SEMBED_JOBS": "2"})


@pytest.fixture()
def kfold3(tmp_path):
    "A params file with transfer.kfold = 3 (a quarter of the default's fits: the toy runs stay fast)."
    f = tmp_path / "params.yaml"; f.write_text("transfer:\n  kfold: 3\n")
    return f


def test_transfer_eval_schema_and_determinism(toy, tiny_model, tmp_path, kfold3):
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for o in outs:
        p = _eval(toy, o, tiny_model, params=kfold3)
        assert p.returncode == 0, p.stderr[-3000:]
    a, b = (json.loads(o.read_text()) for o in outs)
    assert a["protocol"] == "transfer" and a["split"] == "test" and a["pooler"] == "avg"
    assert list(a["tasks"]) == TRANSFER_TASKS and "f1" in a["tasks"]["MRPC"]
    assert a["provenance"]["seed"] == 1111 and a["provenance"]["kfold"] == 3 and a["tasks"]["MR"]["kfold"] == 3
    assert {t: v["acc"] for t, v in a["tasks"].items()} == {t: v["acc"] for t, v in b["tasks"].items()}  # identical, not close
    assert a["avg"] == b["avg"]


def test_transfer_eval_task_subset(toy, tiny_model, tmp_path, kfold3):
    p = _eval(toy, tmp_path / "r.json", tiny_model, "--tasks", "TREC", "MRPC", params=kfold3)
    assert p.returncode == 0, p.stderr[-3000:]
    assert list(json.loads((tmp_path / "r.json").read_text())["tasks"]) == ["TREC", "MRPC"]


def _edit(path, lineno, fn):
    raw = path.read_bytes().decode("latin-1")
    lines = raw.split("\n"); lines[lineno - 1] = fn(lines[lineno - 1])
    path.write_bytes("\n".join(lines).encode("latin-1"))


D = "senteval/downstream"
BAD = {
    "missing file": (lambda d: (d / D / "SST/binary/sentiment-dev").unlink(), ["sentiment-dev", "file not found"]),
    "SST line without label": (lambda d: _edit(d / D / "SST/binary/sentiment-train", 3, lambda l: l.split("\t")[0]),
                               ["sentiment-train:3", "expected 'sentence<TAB>label'"]),
    "SST label outside 0/1": (lambda d: _edit(d / D / "SST/binary/sentiment-test", 2, lambda l: l.rsplit("\t", 1)[0] + "\t2"),
                              ["sentiment-test:2", "got '2'"]),
    "TREC unknown class": (lambda d: _edit(d / D / "TREC/train_5500.label", 4, lambda l: "FOO:bar " + l.split(" ", 1)[1]),
                           ["train_5500.label:4", "'FOO'"]),
    "TREC malformed line": (lambda d: _edit(d / D / "TREC/TREC_10.label", 1, lambda l: "what"), ["TREC_10.label:1"]),
    "MRPC quality outside 0/1": (lambda d: _edit(d / D / "MRPC/msr_paraphrase_test.txt", 3, lambda l: "3" + l[1:]),
                                 ["msr_paraphrase_test.txt:3", "Quality", "'3'"]),
    "MRPC too few columns": (lambda d: _edit(d / D / "MRPC/msr_paraphrase_train.txt", 5, lambda l: l.rsplit("\t", 1)[0]),
                             ["msr_paraphrase_train.txt:5", "5 tab-separated columns"]),
    "empty split": (lambda d: (d / D / "TREC/TREC_10.label").write_text(""), ["TREC_10.label", "empty"]),
    "empty sentence": (lambda d: _edit(d / D / "MRPC/msr_paraphrase_train.txt", 3,
                                       lambda l: "\t".join(c if k != 3 else " " for k, c in enumerate(l.split("\t")))),
                       ["msr_paraphrase_train.txt:3", "empty sentence"]),   # (MR/CR/SUBJ/MPQA keep a blank line as SentEval does)
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_transfer_data_refused(case, toy, tmp_path):
    edit, must = BAD[case]
    edit(toy)
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(toy, out), *must, out=out)


def test_unknown_transfer_task_refused(toy, tmp_path):
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(toy, out, "minilm-l6", "--tasks", "MR", "SST5"), "unknown task 'SST5'", out=out)


def test_transfer_split_flag_refused(toy, tmp_path):
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(toy, out, "minilm-l6", "--split", "dev"), "--split dev", out=out)


def test_bad_transfer_params_refused(toy, tmp_path):
    f = tmp_path / "params.yaml"; f.write_text("transfer:\n  kfold: 1\n")
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(toy, out, params=f), "transfer", "kfold", out=out)


@pytest.mark.parametrize("text,cause", [("max_train: {huge: 5000}", "unknown scale 'huge'"), ("max_train: {smoke: 1}", "max_train.smoke: bad value 1")])
def test_bad_transfer_cap_refused(toy, tmp_path, text, cause):
    f = tmp_path / "params.yaml"; f.write_text(f"transfer:\n  {text}\n")
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(toy, out, params=f), "transfer", cause, out=out)
