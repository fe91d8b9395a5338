"""What the STS benchmarks share: their command line (--data, --batch-size) and the check that the data is there."""
import argparse, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sts_bench_args(doc: str, name: str):
    "Parse --data / --batch-size; exit with one line if the 7 STS test sets are not under --data."
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data")); ap.add_argument("--batch-size", type=int, default=64)
    a = ap.parse_args()
    from sembed.core import SembedError
    from sembed.data import STS_TASKS, load_sts
    try:
        for t in STS_TASKS: load_sts(t, root=a.data)
    except SembedError as e: sys.exit(f"{name}: {e} (run `dvc repro` or `sembed download --out {a.data}` first)")
    return a
