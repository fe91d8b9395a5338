"""The embedding cache trusts nothing it reads (issue 32, point 3): a damaged entry — zeroed, rows shuffled into a
valid .npy, truncated, its record missing or garbled — is one note line on stderr and is recomputed and rewritten;
a sound entry is read without recomputing; `sembed cache` shows, verifies and prunes the cache."""
import json, os, time
from pathlib import Path
import numpy as np
import pytest
from _tiny import SENTS, tiny_encoder
from conftest import error_lines, run_sembed
from sembed.encoders import cached_array, cached_encode


@pytest.fixture()
def enc():
    "A tiny encoder that counts its forward passes (`enc.calls`)."
    e = tiny_encoder(dropout=0.0)
    e.calls, orig = [], e.encode_poolers
    e.encode_poolers = lambda *a, **k: e.calls.append(a[1]) or orig(*a, **k)
    return e


def encode(enc, root, pooler="avg"):
    return cached_encode(enc, SENTS, [pooler], batch_size=8, progress=False, root=root)[pooler]


def entry(root, pooler="avg"):
    "The cache file of one pooler (`<root>/<key[:2]>/<key>.<pooler>.npy`)."
    files = list(Path(root).glob(f"??/*.{pooler}.npy"))
    assert len(files) == 1, files
    return files[0]


def notes(err):
    return [l for l in err.splitlines() if l.strip()]


def assert_recomputed(enc, root, clean, capsys, why):
    "The next read notices the damage in one line, recomputes (one forward pass) and rewrites: then a plain read."
    capsys.readouterr(); n = len(enc.calls)
    again = encode(enc, root)
    lines = notes(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"sembed: note: embedding cache entry {entry(root)} is corrupt (") and lines[0].endswith("; recomputing"), lines[0]
    assert why in lines[0], lines[0]
    assert len(enc.calls) == n + 1
    assert np.array_equal(again, clean)
    assert np.array_equal(encode(enc, root), clean) and len(enc.calls) == n + 1   # rewritten: a sound entry now
    assert notes(capsys.readouterr().err) == []


def test_zeroed_entry_is_recomputed(enc, tmp_path, capsys):
    root = tmp_path / "cache"
    clean = encode(enc, root)
    f = entry(root)
    raw = f.read_bytes()
    f.write_bytes(raw[:len(raw) - clean.nbytes] + bytes(clean.nbytes))   # the vectors zeroed, header and size kept
    assert_recomputed(enc, root, clean, capsys, "sha256")


def test_shuffled_rows_are_recomputed(enc, tmp_path, capsys):
    root = tmp_path / "cache"
    clean = encode(enc, root)
    f = entry(root)
    np.save(f, np.load(f)[np.random.default_rng(0).permutation(len(SENTS))])   # a valid .npy of the same size
    assert f.stat().st_size == len(f.read_bytes())
    assert_recomputed(enc, root, clean, capsys, "sha256")


def test_truncated_entry_is_recomputed(enc, tmp_path, capsys):
    root = tmp_path / "cache"
    clean = encode(enc, root)
    f = entry(root)
    f.write_bytes(f.read_bytes()[:200])
    assert_recomputed(enc, root, clean, capsys, "200 bytes")


@pytest.mark.parametrize("damage, why", [("missing", "no record"), ("garbled", "unreadable"), ("other", "does not describe this file")])
def test_bad_record_is_recomputed(enc, tmp_path, capsys, damage, why):
    root = tmp_path / "cache"
    clean = encode(enc, root)
    rec = Path(str(entry(root)) + ".json")
    if damage == "missing": rec.unlink()
    elif damage == "garbled": rec.write_text(rec.read_text()[:-20])
    else:   # a record consistent with itself, but for other sentences
        r = json.loads(rec.read_text())
        r["made_from"]["sentences_sha256"] = "0" * 64
        rec.write_text(json.dumps(r))
    assert_recomputed(enc, root, clean, capsys, why)


def test_sound_entry_is_read_without_recomputing(enc, tmp_path, capsys):
    root = tmp_path / "cache"
    clean = encode(enc, root)
    assert len(enc.calls) == 1
    f = entry(root)
    os.utime(f, (1e9, 1e9))
    for p in ("avg", "cls_before_pooler", "avg_first_last"):   # every standard pooler came with the first pass
        encode(enc, root, p)
    assert np.array_equal(encode(enc, root), clean) and len(enc.calls) == 1
    assert notes(capsys.readouterr().err) == []
    assert f.stat().st_mtime > time.time() - 60   # a read hit marks the entry used (LRU pruning)


def test_cached_array_entry_is_checked(enc, tmp_path, capsys):
    root, n = tmp_path / "cache", []
    compute = lambda s: n.append(1) or np.arange(len(s) * 3, dtype=np.float32).reshape(len(s), 3)
    a = cached_array(enc, "demo", SENTS, compute, root=root)
    f, = Path(root).glob("??/*.npy")
    f.write_bytes(f.read_bytes()[:-4] + bytes(4))   # the last value zeroed
    capsys.readouterr()
    b = cached_array(enc, "demo", SENTS, compute, root=root)
    assert np.array_equal(a, b) and len(n) == 2
    assert len(notes(capsys.readouterr().err)) == 1
    cached_array(enc, "demo", SENTS, compute, root=root)
    assert len(n) == 2


def make_entries(enc, root, k=3):
    "k cached_array entries of 16 x 4096 float32 (256 KiB each), last used one after the other."
    files = []
    for i in range(k):
        cached_array(enc, f"demo {i}", SENTS, lambda s: np.full((len(s), 4096), i, np.float32), root=root)
        f = next(f for f in Path(root).glob("??/*.npy") if f not in files)
        os.utime(f, (1e9 + i, 1e9 + i)); files.append(f)   # (sembed cache reads the modification time)
    return files


def kib(root):
    "The size of everything under `root`, as `sembed cache` prints it."
    return f"{sum(f.stat().st_size for f in Path(root).rglob('*') if f.is_file()) / 1024:.1f} KiB"


def test_cli_cache_verify_and_prune(enc, tmp_path):
    root = tmp_path / "cache"
    files = make_entries(enc, root)
    p = run_sembed("cache", env={"SEMBED_CACHE_DIR": str(root)})
    assert p.returncode == 0, p.stderr
    assert str(root) in p.stdout and f"3 entries, {kib(root)}" in p.stdout, p.stdout
    p = run_sembed("cache", "--verify", env={"SEMBED_CACHE_DIR": str(root)})
    assert p.returncode == 0 and "corrupt" not in p.stdout, (p.stdout, p.stderr)
    raw = files[1].read_bytes()
    files[1].write_bytes(raw[:-100] + bytes(100))
    p = run_sembed("cache", "--dir", root, "--verify")
    assert p.returncode == 2, p.stderr
    assert len(error_lines(p)) == 1 and "1 entry of" in error_lines(p)[0], p.stderr
    bad = [l for l in p.stdout.splitlines() if "corrupt" in l]
    assert len(bad) == 1 and str(files[1]) in bad[0], p.stdout
    assert files[1].exists()   # --verify alone only reports
    p = run_sembed("cache", "--dir", root, "--prune")
    assert p.returncode == 0, p.stderr
    assert not files[1].exists() and not Path(str(files[1]) + ".json").exists()
    assert files[0].exists() and files[2].exists() and "2 entries" in p.stdout, p.stdout
    cached_array(enc, "demo 0", SENTS, lambda s: 1 / 0, root=root)   # a read hit: entry 0 is now the most recently used
    p = run_sembed("cache", "--dir", root, "--prune", "--max-size", "300K")
    assert p.returncode == 0, p.stderr
    assert files[0].exists() and not files[2].exists(), p.stdout
    assert f"1 entry, {kib(root)}" in p.stdout, p.stdout


def test_cli_cache_prune_older_than_and_bad_flags(enc, tmp_path):
    root = tmp_path / "cache"
    files = make_entries(enc, root, 2)
    os.utime(files[1], None)   # used now
    p = run_sembed("cache", "--dir", root, "--prune", "--older-than", "30")
    assert p.returncode == 0, p.stderr
    assert not files[0].exists() and files[1].exists()
    for args, msg in [(["--max-size", "2G"], "go with --prune"), (["--prune", "--max-size", "lots"], "--max-size lots"),
                      (["--fix"], "--fix goes with --verify")]:
        p = run_sembed("cache", "--dir", root, *args)
        assert p.returncode == 2 and len(error_lines(p)) == 1 and msg in error_lines(p)[0], (args, p.stderr)


def test_damaged_layer_mean_under_a_layer_pair_is_recomputed(enc, tmp_path, capsys):
    "A layer pair is derived from two stored layer means: a damaged one is recomputed first, never averaged in."
    root = tmp_path / "cache"
    clean = encode(enc, root, "avg_layers_0_2")
    f = entry(root, "avg_layers_0_0")
    f.write_bytes(f.read_bytes()[:-8] + bytes(8))
    entry(root, "avg_layers_0_2").unlink()
    capsys.readouterr(); n = len(enc.calls)
    assert np.array_equal(encode(enc, root, "avg_layers_0_2"), clean) and len(enc.calls) == n + 1
    lines = notes(capsys.readouterr().err)
    assert len(lines) == 1 and str(f) in lines[0], lines
