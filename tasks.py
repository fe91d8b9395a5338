"""Task runner for sembed (`invoke --list`). Every task runs with this Python's bin/ on PATH, so
`.venv/bin/invoke TASK` works without activating the virtualenv."""
import hashlib, os, shlex, sys
from pathlib import Path
from invoke import task

ROOT = Path(__file__).resolve().parent
BIN = str(Path(sys.executable).parent)
os.environ["PATH"] = BIN + os.pathsep + os.environ.get("PATH", "")


def _snapshot(folder, pattern):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / folder).rglob(pattern))}


def _check_unchanged(c, cmd, folder, pattern, what):
    before = _snapshot(folder, pattern)
    c.run(cmd, hide=True)
    after = _snapshot(folder, pattern)
    changed = sorted(str(p.relative_to(ROOT)) for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        sys.exit(f"invoke test: `{cmd}` changed {what}: {', '.join(changed)} (commit notebooks and export together)")


@task
def export(c):
    "Export the notebooks in nbs/ to the sembed package (nbdev_export)."
    c.run("nbdev_export")


@task(help={"fast": "skip the slow integration tests (real model and data mirror)", "k": "pytest -k expression"})
def test(c, fast=False, k=""):
    "Check sembed/ matches the notebooks and notebooks are clean, run notebook tests, then pytest."
    with c.cd(str(ROOT)):
        _check_unchanged(c, "nbdev_export", "sembed", "*.py", "sembed/")
        _check_unchanged(c, "nbdev_clean", "nbs", "*.ipynb", "notebooks (outputs/metadata left in)")
        c.run("nbdev_test --n_workers 2", pty=False)
        marks = '-m "not slow"' if fast else ""
        kexp = f'-k "{k}"' if k else ""
        # two pytest workers (the machine's 2 cores): much of the suite waits on subprocesses, files and process start-up;
        # --dist loadfile keeps each file's tests (and its module fixtures, e.g. the pipeline's `dvc repro`) in one worker
        c.run(f"python -m pytest tests {marks} {kexp} -q -rs --durations=15 -n 2 --dist loadfile", pty=False)


@task
def setup(c):
    "Install everything into .venv (./install.sh with SEMBED_SKIP_REPRO=1: no pipeline run)."
    with c.cd(str(ROOT)):
        c.run("./install.sh", env={"SEMBED_SKIP_REPRO": "1"}, pty=False)


@task(help={"scale": "smoke | full | paper: validate the matrix at that scale first, then run `dvc exp run -S scale=X` "
                     "(with --paper: full runs `invoke measure --scale full` on the paper's rows)",
            "paper": "a paper id (e.g. simcse): only its rows, their baselines and its transfer rows, then its report",
            "dry_run": "print the command(s) and the stages; run nothing"})
def repro(c, scale="", paper="", dry_run=False):
    """Run the DVC pipeline (dvc repro): data, baselines, training, evaluation, geometry. With --scale X, `sembed check-params
    --scale X` first: `dvc exp run -S scale=X` writes X into params.yaml before any stage runs and leaves it there when the
    run fails, so a bad X is refused before params.yaml is touched. With --paper ID, one paper: `dvc repro` of its rows'
    stages (row@<id> of its rows and their baselines, transfer@<id> of those listed; DVC runs their upstream stages too),
    then `sembed report --paper ID`."""
    with c.cd(str(ROOT)):
        if paper: return _repro_paper(c, paper, scale, dry_run)
        cmd = f"dvc exp run -S scale={shlex.quote(scale)}" if scale else "dvc repro"
        if scale: _check_scale(c, scale)
        if dry_run: print(f"{cmd}\n(dry run: nothing run)"); return
        c.run(cmd, pty=False)


def _check_scale(c, scale):
    "`sembed check-params --scale X` (the whole matrix at X, no model loaded); exit non-zero before anything is written."
    if c.run(f"sembed check-params --params params.yaml --scale {shlex.quote(scale)}", pty=False, warn=True).failed:
        sys.exit(f"invoke repro: --scale {scale}: refused (params.yaml unchanged)")


def _repro_paper(c, paper, scale, dry_run):
    "invoke repro --paper ID [--scale X]: validate, list the stages, run them through dvc (or `invoke measure` at full), render the report."
    sys.path.insert(0, str(ROOT))
    from sembed.core import SembedError, load_params
    from sembed.experiments import paper_rows
    try:
        params = load_params(ROOT / "params.yaml")
        plan = paper_rows(params, paper)
    except SembedError as e: sys.exit(f"invoke repro: {e}")
    if scale: _check_scale(c, scale)
    full = scale == "full"   # the committed evidence: measured/full/results/ (sembed.measure), outside DVC's workspace
    rows, transfer = plan["rows"] + plan["baselines"], [] if full else plan["transfer"]
    q = " ".join(map(shlex.quote, [f"row@{r}" for r in rows] + [f"transfer@{t}" for t in transfer]))
    if full: cmds = [f"invoke measure --scale full --rows {shlex.quote(','.join(rows))}"]
    elif scale and scale != params.get("scale"): cmds = [f"dvc exp run -S scale={shlex.quote(scale)} {q}"]
    else: cmds = [f"dvc repro {q}"]
    cmds.append(f"sembed report --paper {shlex.quote(paper)}")
    n = lambda k, what: f"{len(k)} {what}{'' if len(k) == 1 else 's'}"
    print(f"invoke repro --paper {paper}: {n(plan['rows'], 'row')}, {n(plan['baselines'], 'baseline')}, "
          f"{n(transfer, 'transfer stage')} (scale {scale or params.get('scale')})")
    for kind, ids in (("row", plan["rows"]), ("baseline", plan["baselines"])):
        for r in ids: print(f"  row@{r}  ({kind})")
    for t in transfer: print(f"  transfer@{t}")
    if full: print("  (full: `sembed run` of each row into measured/full/results/; transfer tasks are not measured there)")
    else: print("  (DVC runs their upstream stages too: validate, download, prepare"
                + ("; prepare builds the corpora of every row at that scale)" if scale and scale != params.get("scale") else ")"))
    for cmd in cmds: print(f"$ {cmd}")
    if dry_run: print("(dry run: nothing run)"); return
    for cmd in cmds: c.run(cmd, pty=False)


def _known_paper(paper):
    "Validate a paper id against the registry; exit non-zero listing the known ids if it is unknown."
    sys.path.insert(0, str(ROOT))
    from sembed.core import SembedError
    from sembed.registry import get_paper
    try: get_paper(paper)
    except SembedError as e: sys.exit(f"invoke report: {e}")


@task(help={"paper": "paper id from sembed/resources/papers.yaml (e.g. simcse)", "all": "render every paper listed in params.yaml"})
def report(c, paper="", all=False):
    "Render reports/<paper>.html (or every paper with --all) and the leaderboard from existing results; never trains."
    sys.path.insert(0, str(ROOT))
    from sembed.core import load_params
    from sembed.registry import paper_ids
    if bool(paper) == bool(all):
        sys.exit(f"invoke report: give exactly one of --paper ID or --all (known ids: {', '.join(paper_ids())})")
    if paper: _known_paper(paper)  # before anything runs or is written
    from sembed.report import render_reports, render_leaderboard
    for f in render_reports([paper] if paper else load_params(ROOT / "params.yaml").get("papers", []), root=ROOT, jobs=1 if paper else 2):
        print(f"report: {f.relative_to(ROOT)}")
    print(f"report: {render_leaderboard(root=ROOT).relative_to(ROOT)}")


@task
def methods(c):
    "List every registered method with its paper, kind and status per scale (the README's method table)."
    with c.cd(str(ROOT)):
        c.run("sembed methods", pty=False)


README_BEGIN, README_END = "<!-- methods:begin (invoke readme) -->", "<!-- methods:end -->"


def _readme_table():
    sys.path.insert(0, str(ROOT))
    from sembed.cli import markdown_table, method_table
    from sembed.core import load_params
    return markdown_table(method_table(load_params(ROOT / "params.yaml")))


@task
def readme(c):
    "Rewrite the README's method table from the method registry (the README holds no hand-kept copy)."
    text = (ROOT / "README.md").read_text()
    a, b = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    (ROOT / "README.md").write_text(text[:a] + "\n" + _readme_table() + "\n" + text[b:])
    print("README.md: method table regenerated")


@task(help={"out": "site folder (default: _docs; a relative path is taken from the repository root)",
            "builder": "auto (Quarto if installed, else the offline fallback) | quarto | fallback"})
def docs(c, out="_docs", builder="auto"):
    "Build the documentation site into _docs/: a page per notebook, the README, papers + reports, Scaling out (sembed.docs)."
    sys.path.insert(0, str(ROOT))
    from sembed.core import SembedError
    from sembed.docs import build_site
    try: build_site(ROOT, out=Path(out) if Path(out).is_absolute() else ROOT / out, builder=builder)
    except SembedError as e: sys.exit(f"invoke docs: {e}")


def _stage_kind(stage, experiments):
    "What a stage is: download/prepare/reports/..., or a row's method kind (train, transform, encode)."
    name, _, key = stage.partition("@")
    if name != "row": return name
    from sembed.methods import get_method, load_plugins
    load_plugins()
    try: return f"row ({get_method(experiments.get(key, {}).get('method', '')).kind})"
    except Exception: return "row"


@task(help={"top": "how many of the costliest stages to list (default: all)"})
def budget(c, top=0):
    "Each pipeline stage's wall time from the last `dvc repro` that ran it (.dvc/tmp/sembed-stage-times.jsonl), grouped, and the total."
    sys.path.insert(0, str(ROOT))
    from sembed.core import load_params, stage_times
    times = stage_times(ROOT)
    if not times: sys.exit("invoke budget: no stage timings yet (they are recorded by `dvc repro`, under .dvc/tmp/)")
    import subprocess
    stages = set(subprocess.run(["dvc", "stage", "list", "--name-only"], cwd=ROOT, capture_output=True, text=True).stdout.split())
    experiments = load_params(ROOT / "params.yaml").get("experiments", {})
    rows = sorted(((s, r) for s, r in times.items() if not stages or s in stages), key=lambda x: -x[1]["seconds"])
    groups = {}
    for s, r in rows: groups.setdefault(_stage_kind(s, experiments), []).append(r["seconds"])
    import datetime
    print("| stage | kind | seconds | run at (UTC) | status |\n|---|---|---|---|---|")
    for s, r in rows[:int(top) or None]:
        at = datetime.datetime.fromtimestamp(r["start"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        print(f"| {s} | {_stage_kind(s, experiments)} | {r['seconds']:.1f} | {at} | {r['status']} |")
    print("\n| kind | stages | seconds | mean per stage |\n|---|---|---|---|")
    for k, v in sorted(groups.items(), key=lambda x: -sum(x[1])):
        print(f"| {k} | {len(v)} | {sum(v):.0f} | {sum(v) / len(v):.1f} |")
    total = sum(r["seconds"] for _, r in rows)
    missing = sorted(stages - set(times)) if stages else []
    print(f"\ntotal: {total:.0f} s ({total / 60:.1f} min) over {len(rows)} stages (sembed processes only; DVC's own hashing is not counted)"
          + (f"; never timed: {len(missing)} ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})" if missing else ""))


@task(help={"scale": "the scale measured once (default: full)", "rows": "comma-separated experiment ids (default: every row)",
            "stale": "only the rows whose committed result is missing or stale", "dry_run": "list the rows and why; run nothing",
            "root": "the repository (default: this one)"})
def measure(c, scale="full", rows="", stale=False, dry_run=False, root=""):
    "Run rows once at `scale` into measured/<scale>/results/ (committed evidence; sembed.measure): every row, --rows, or --stale ones."
    sys.path.insert(0, str(ROOT))
    from sembed.core import SembedError
    from sembed.measure import measure_plan, measure_rows, plan_table
    where = Path(root).resolve() if root else ROOT
    try:
        plan = measure_plan(where, scale, [r for r in rows.split(",") if r] or None)
        todo = [p for p in plan if p["status"] in (("missing", "stale") if stale else ("missing", "stale", "current"))]
        print(plan_table(todo if stale else plan))
        print(f"\nmeasure: {len(todo)} row(s) to run at scale {scale}" + (" (dry run: nothing run)" if dry_run else ""))
        if not dry_run: measure_rows(where, scale, [p["id"] for p in todo])
    except SembedError as e: sys.exit(f"invoke measure: {e}")


@task(help={"data": "data folder from `sembed download` (default: data)"})
def bench_eval(c, data="data"):
    "Benchmark: full 7-task STS evaluation of MiniLM, sembed vs sentence-transformers encode (ratio, score diff)."
    with c.cd(str(ROOT)):
        c.run(f"python benchmarks/bench_eval.py --data {data} --batch-size 64", pty=False)


@task(help={"steps": "optimizer steps per contender (default 40)", "data": "data folder from `sembed download` (default: data)"})
def bench_train(c, steps=40, data="data"):
    "Benchmark: unsupervised-SimCSE training steps/s, sembed vs sentence-transformers MultipleNegativesRankingLoss."
    with c.cd(str(ROOT)):
        c.run(f"python benchmarks/bench_train.py --steps {int(steps)} --data {data}", pty=False)


@task(help={"steps": "optimizer steps per contender (default 40)", "data": "data folder from `sembed download` (default: data)"})
def bench_train_losses(c, steps=40, data="data"):
    "Benchmark: SBERT softmax / CoSENT / AnglE training steps/s, sembed vs sentence-transformers' same losses (goal >= 1.3)."
    with c.cd(str(ROOT)):
        c.run(f"python benchmarks/bench_train_losses.py --steps {int(steps)} --data {data}", pty=False)


@task(help={"data": "data folder from `sembed download` (default: data)"})
def bench_variants(c, data="data"):
    "Benchmark: K training-free pooler rows of MiniLM (one shared forward pass) vs one plain 7-task evaluation (ratio)."
    with c.cd(str(ROOT)):
        c.run(f"python benchmarks/bench_variants.py --data {data}", pty=False)


@task(help={"data": "data folder from `sembed download` (default: data)"})
def bench_training_free(c, data="data"):
    "Benchmark: every training-free MiniLM row of issue 8 (selections, sweeps) vs one plain 7-task evaluation (ratio, goal <= 3)."
    with c.cd(str(ROOT)):
        c.run(f"python benchmarks/bench_training_free.py --data {data}", pty=False)


@task(help={"data": "data folder from `sembed download` (default: data)"})
def bench_prompts(c, data="data"):
    "Benchmark: PromptEOL on SmolLM2 (STS-B test), sembed vs the papers' plain transformers loop (goal >= 3x), and MetaEOL / PromptEOL (goal <= 4)."
    with c.cd(str(ROOT)):
        c.run(f"python benchmarks/bench_prompts.py --data {data}", pty=False)


@task(pre=[bench_eval, bench_train, bench_train_losses, bench_variants, bench_training_free, bench_prompts])
def bench(c):
    "Run every benchmark (bench-eval, bench-train, bench-train-losses, bench-variants, bench-training-free, bench-prompts)."
