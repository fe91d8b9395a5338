"""Bad input through the real `sembed` command: one clear error line naming the cause, exit code 2,
no partial output (issue: spine, acceptance 4)."""
import shutil
from pathlib import Path
import pytest
from conftest import error_lines, mirror_copy, run_sembed


def assert_clean_failure(proc, *must_contain, out=None):
    lines = error_lines(proc)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr[-2000:]
    for s in must_contain: assert s in lines[0], lines[0]
    if out is not None: assert not Path(out).exists(), f"partial output left: {out}"


@pytest.fixture()
def small_mirror(tmp_path, mirror):
    "A writable copy of the mirror's files that `sembed download` needs."
    return mirror_copy(mirror, tmp_path / "mirror", "senteval", "hf")


def test_download_missing_mirror_file(small_mirror, tmp_path):
    victim = small_mirror / "senteval/downstream/STS/STS14-en-test/STS.input.images.txt"
    victim.unlink()
    p = run_sembed("download", "--mirror", small_mirror, "--out", tmp_path / "data", process=True)   # the console script itself
    assert_clean_failure(p, "STS.input.images.txt", out=tmp_path / "data/senteval")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.txt"))


def test_download_checksum_mismatch(small_mirror, tmp_path):
    victim = small_mirror / "senteval/downstream/STS/STS12-en-test/STS.gs.MSRpar.txt"
    victim.write_text(victim.read_text().replace("4.400", "4.500", 1))
    p = run_sembed("download", "--mirror", small_mirror, "--out", tmp_path / "data")
    assert_clean_failure(p, "STS.gs.MSRpar.txt", "sha256", out=tmp_path / "data/senteval")


def test_download_unknown_dataset(tmp_path, mirror):
    p = run_sembed("download", "--only", "wiki", "--mirror", mirror, "--out", tmp_path / "data")
    assert_clean_failure(p, "unknown dataset 'wiki'", out=tmp_path / "data")


@pytest.fixture()
def data_copy(tmp_path, data_dir):
    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    return d


def _eval(data, out, *extra):
    return run_sembed("eval", "--model", "minilm-l6", "--pooler", "avg", "--protocol", "senteval",
                      "--data", data, "--out", out, *extra)


def test_eval_malformed_wrong_columns(data_copy, tmp_path):
    f = data_copy / "senteval/downstream/STS/STS13-en-test/STS.input.FNWN.txt"
    lines = f.read_text().splitlines(); lines[6] = lines[6].replace("\t", " ")
    f.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(data_copy, out), "STS.input.FNWN.txt", "7", out=out)


def test_eval_malformed_non_numeric_score(data_copy, tmp_path):
    f = data_copy / "senteval/downstream/STS/STSBenchmark/sts-test.csv"
    lines = f.read_text().splitlines(); cols = lines[2].split("\t"); cols[4] = "high"; lines[2] = "\t".join(cols)
    f.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(data_copy, out), "sts-test.csv", "high", out=out)


def test_eval_empty_sentence(data_copy, tmp_path):
    f = data_copy / "SICK_test_annotated.txt"
    f = next(data_copy.rglob("SICK_test_annotated.txt"))
    lines = f.read_text().splitlines(); cols = lines[3].split("\t"); cols[1] = "  "; lines[3] = "\t".join(cols)
    f.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(data_copy, out), "SICK_test_annotated.txt", "empty", out=out)


def test_eval_missing_data_file(data_copy, tmp_path):
    next(data_copy.rglob("STS.gs.headlines.txt")).unlink()
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(data_copy, out), "STS.gs.headlines.txt", out=out)


def test_eval_unknown_model(data_dir, tmp_path):
    out = tmp_path / "r.json"
    p = run_sembed("eval", "--model", "minilm-l7", "--data", data_dir, "--out", out)
    assert_clean_failure(p, "minilm-l7", "minilm-l6", out=out)


def test_eval_unknown_pooler(data_dir, tmp_path):
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(data_dir, out, "--pooler", "maximum"), "unknown pooler 'maximum'", out=out)


def test_eval_unknown_task(data_dir, tmp_path):
    out = tmp_path / "r.json"
    assert_clean_failure(_eval(data_dir, out, "--tasks", "STS12", "STS17"), "unknown task 'STS17'", out=out)


def test_eval_unknown_protocol(data_dir, tmp_path):
    out = tmp_path / "r.json"
    p = run_sembed("eval", "--model", "minilm-l6", "--protocol", "glue", "--data", data_dir, "--out", out)
    assert_clean_failure(p, "unknown protocol 'glue'", out=out)


# ---- training: bad params fail before any training, nothing left in the output folder (SimCSE, acceptance 7)

def _params(tmp_path, edit):
    import yaml
    from conftest import ROOT
    p = yaml.safe_load((ROOT / "params.yaml").read_text()); edit(p)
    f = tmp_path / "params.yaml"; f.write_text(yaml.safe_dump(p)); return f


@pytest.mark.parametrize("edit,msg", [
    (lambda p: p.update(scale="huge"), "scale: unknown value 'huge'"),
    (lambda p: p["experiments"]["simcse-unsup"]["scales"]["smoke"].update(learning_rate=0), "field learning_rate: bad value 0"),
    (lambda p: p["experiments"]["simcse-unsup"]["scales"]["smoke"].update(batch_size=1), "batch_size"),
    (lambda p: p["experiments"]["simcse-unsup"]["scales"]["smoke"].update(data="snli-devtest-triplets"), "needs sentences"),
    (lambda p: p["experiments"]["simcse-unsup"]["scales"]["smoke"].update(lr=3e-5), "unknown field 'lr'"),
    (lambda p: p["experiments"]["simcse-unsup"].update(method="simcse-large"), "unknown method 'simcse-large'"),
])
def test_train_bad_params(tmp_path, data_dir, edit, msg):
    out = tmp_path / "models" / "simcse-unsup"
    p = run_sembed("train", "--experiment", "simcse-unsup", "--params", _params(tmp_path, edit), "--data", data_dir,
                   "--out", out, "--results", tmp_path / "logs")
    assert_clean_failure(p, msg, out=out)
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("exp,name,content,msg", [
    ("simcse-unsup", "snli-devtest-sentences.txt", "", "snli-devtest-sentences.txt"),     # empty corpus
    ("simcse-sup", "snli-devtest-triplets.csv", "sent0,sent1\na,b\nc,d\n", "hard_neg"),  # triplets missing a column
])
def test_train_bad_corpus(tmp_path, data_dir, exp, name, content, msg):
    d = tmp_path / "data"; shutil.copytree(data_dir, d)
    (d / "train").mkdir(); (d / "train" / name).write_text(content)
    out = tmp_path / "models" / exp
    p = run_sembed("train", "--experiment", exp, "--data", d, "--out", out, "--results", tmp_path / "logs")
    assert_clean_failure(p, msg, out=out)


def test_train_unknown_experiment(tmp_path, data_dir):
    out = tmp_path / "models" / "simcse-large"
    p = run_sembed("train", "--experiment", "simcse-large", "--data", data_dir, "--out", out, "--results", tmp_path / "logs")
    assert_clean_failure(p, "unknown experiment 'simcse-large'", out=out)


# ---- every command that writes refuses an unwritable output path first, with one line (methods-as-plugins, 9)

@pytest.mark.parametrize("args", [
    ["download", "--out", "/proc/sembed-x"],
    ["eval", "--model", "minilm-l6", "--out", "/proc/sembed-x/r.json"],
    ["eval", "--experiment", "minilm-avg", "--out", "/proc/sembed-x/r.json"],
    ["prepare", "--out", "/proc/sembed-x/train"],
    ["train", "--experiment", "simcse-base-cls", "--out", "/proc/sembed-x/simcse-base-cls", "--results", "/tmp/sembed-test-unused"],
    ["train", "--experiment", "simcse-base-cls", "--out", "/tmp/sembed-test-unused/simcse-base-cls", "--results", "/proc/sembed-x"],
    ["geometry", "--models", "a=minilm-l6", "--out", "/proc/sembed-x/g.json"],
    ["report", "--paper", "simcse", "--out", "/proc/sembed-x"],
    ["report", "--leaderboard", "--out", "/proc/sembed-x"],
])
def test_unwritable_output_is_refused_first(args, data_dir):
    p = run_sembed(*args, "--data", data_dir) if args[0] in ("eval", "prepare", "train", "geometry") else run_sembed(*args)
    assert_clean_failure(p, "/proc/sembed-x", "cannot write there")
    assert "Traceback" not in p.stderr
    assert not Path("/tmp/sembed-test-unused").exists()
