"""Reported rows against the compiled paper tables (issue 30): every reported row of the registry says what kind of source
it was copied from; the rows of the papers listed in PAPER_FILES match, number for number, a row of their file in
../shared/paper-tables/ (kind and commit included), and every row of those tables is in the registry; the papers for which
nothing was found say where it was looked for. The file checks are skipped when ../shared/paper-tables is absent.

Which paper is checked against which file (and section of it):
  pcc-tuning                -> pcc-tuning.md                (the results image, transcribed)
  prompteol                 -> prompteol.md                 (Tables A-B: authors' README; C-D: third parties)
  token-prepending          -> token-prepending.md          (the paper's Tables 1-2)
  metaeol                   -> metaeol.md                   (Token Prepending's Table 1: third party)
  pretended-cot             -> pretended-cot-ke.md          (Token Prepending's Tables 1-2: third party)
  whitening-not-recommended -> whitening-not-recommended.md (the authors' raw result files; spearman_value)
The registry's other papers (SimCSE, BERT-whitening, PromptBERT, SBERT, AnglE, ESimCSE, ConSERT, DiffCSE, Contrastive
Prompting) have no file there: only their source kind is checked."""
import re
from pathlib import Path
import pytest
from sembed.registry import SOURCE_KINDS, load_registry

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT.parent / "shared" / "paper-tables"
README_COMMIT = {"pcc": "71768f850d0a760c0a5422b930c10c8d50958824", "prompteol": "8567aa083c1b3c77586670f91e7f78eb80694ad3",
                 "wnr": "2a8fc2903a2655335c1f984d393fd10bb7aa7acd"}
# paper id -> (file, {start of a section heading: (the kind of its rows, the commit their source_ref must name or None)})
PAPER_FILES = {
    "pcc-tuning": ("pcc-tuning.md", {"Table 1": ("paper-table-image", README_COMMIT["pcc"])}),
    "prompteol": ("prompteol.md", {"Table A": ("authors-readme", README_COMMIT["prompteol"]),
                                   "Table B": ("authors-readme", README_COMMIT["prompteol"]),
                                   "Table C": ("third-party", README_COMMIT["pcc"]), "Table D": ("third-party", None)}),
    "token-prepending": ("token-prepending.md", {"Table 1": ("paper-table", None), "Table 2": ("paper-table", None)}),
    "metaeol": ("metaeol.md", {"Third party": ("third-party", None)}),
    "pretended-cot": ("pretended-cot-ke.md", {"Third party": ("third-party", None)}),
    "whitening-not-recommended": ("whitening-not-recommended.md", {"`spearman_value`": ("authors-raw-results", README_COMMIT["wnr"])}),
}
# papers with no reported row found (the README's "not found" rows): a place its sentence must name
NOT_FOUND = {"whiteningbert": ("2104.01767", "Jun-jie-Huang/WhiteningBERT"), "ditto": ("2305.10786", "alibaba-damo-academy/SpokenNLP"),
             "embedding-redundancy": ("2506.01435", "[Paper Note]"), "2dmse": ("2402.14776", "ielab/2DMSE-Reproduce"),
             "contrastive-prompting": ("2505.12831", "official-code README")}
need_tables = pytest.mark.skipif(not TABLES.is_dir(), reason=f"{TABLES} is absent (the compiled paper tables): nothing to check against")


def _key(name): return re.sub(r"[-. ]", "", name.lower())   # "STS-12" / "STSb" / "Avg." -> sts12 / stsb / avg


def md_tables(path):
    "[(section heading, header, rows)] of the Markdown tables of `path` (the nearest heading above each)."
    out, sec, cur = [], "", None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"): sec, cur = line.lstrip("#").strip(), None
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cur is None: cur = (sec, [_key(c) for c in cells], []); out.append(cur)
            elif not all(re.fullmatch(r":?-+:?", c) for c in cells): cur[2].append(cells)
        else: cur = None
    return out


def md_numbers(header, cells):
    "{column key: the cell's leading number as text} for the STS columns and avg (bold marks, ↑/↓ deltas dropped)."
    out = {}
    for h, c in zip(header, cells):
        if re.fullmatch(r"sts1[2-6]|stsb|sickr|avg", h):
            m = re.match(r"(?:\*\*)?(\d+\.\d+)", c)
            assert m, (h, c)
            out[h] = m.group(1)
    return out


def test_every_reported_row_has_a_source_kind():
    "Every row of `reported` and `transfer_reported`, of every paper (with or without a file here), names its kind of source."
    n = 0
    for pid, p in load_registry().items():
        for field in ("reported", "transfer_reported"):
            for rid, row in (p.get(field) or {}).items():
                assert row.get("source") in SOURCE_KINDS, (pid, field, rid, row.get("source")); n += 1
    assert n >= 140


@need_tables
@pytest.mark.parametrize("pid", sorted(PAPER_FILES))
def test_reported_rows_match_paper_tables(pid):
    "Each reported row equals a row of the paper's file exactly (every number, the columns it has), with that section's kind."
    fname, sections = PAPER_FILES[pid]
    text = (TABLES / fname).read_text(encoding="utf-8")
    md, seen = [], set()   # md: (kind, commit, {column: number text}, cells)
    for sec, header, rows in md_tables(TABLES / fname):
        hit = [k for k in sections if sec.startswith(k)]
        if not hit: continue
        seen.add(hit[0]); kind, commit = sections[hit[0]]
        assert commit is None or commit in text, (fname, commit)
        md += [(kind, commit, md_numbers(header, cells), cells) for cells in rows]
    assert seen == set(sections), (fname, set(sections) - seen)
    reg = load_registry()[pid]["reported"]
    used = set()
    for rid, row in reg.items():
        ours = {_key(t): v for t, v in row["scores"].items()}
        match = [i for i, (kind, _, nums, _) in enumerate(md)
                 if set(nums) == set(ours) and all(float(nums[k]) == ours[k] for k in nums)]
        assert match, f"{pid}.{rid}: no row of {fname} has these numbers"
        same_kind = [i for i in match if md[i][0] == row["source"]]
        assert same_kind, f"{pid}.{rid}: source {row['source']!r}, but {fname} gives {md[match[0]][0]!r}"
        if pid == "whitening-not-recommended":   # identical numbers across settings: the encoder and setting must match too
            label = [row["base_model"], "(none)" if row["method"] == "no whitening" else row["method"]]
            same_kind = [i for i in same_kind if md[i][3][:2] == label]
            assert same_kind, f"{pid}.{rid}: no row of {fname} for encoder / whitening {label}"
        commit = md[same_kind[0]][1]
        assert commit is None or commit in (row.get("source_ref") or ""), f"{pid}.{rid}: source_ref does not name commit {commit}"
        missing = {_key(t) for t in row.get("not_reported") or []}
        assert missing.isdisjoint(md[same_kind[0]][2]), f"{pid}.{rid}: not_reported lists a column {fname} has"
        used.update(same_kind)
    left = [md[i][3][:3] for i in range(len(md)) if i not in used]
    assert not left, f"rows of {fname} not in the registry's {pid}: {left}"


@need_tables
def test_no_reported_row_says_where_it_was_looked_for():
    "Each paper the README lists as 'not found' has no row entered, or says the rows were not re-checked; its sentence names a place from the README's row."
    readme = (TABLES / "README.md").read_text(encoding="utf-8")
    reg = load_registry()
    for pid, (arxiv, place) in NOT_FOUND.items():
        line = next(l for l in readme.splitlines() if l.startswith("|") and f"({arxiv})" in l)
        assert "not found" in line and place in line, (pid, place)
        assert place in reg[pid]["not_found"] and reg[pid]["not_found"].count(". ") == 0, pid   # one sentence
        assert reg[pid]["arxiv"] == arxiv


def test_paper_without_rows_has_a_not_found_sentence():
    for pid, p in load_registry().items():
        if not p["reported"]: assert p.get("not_found", "").strip().endswith("."), pid
