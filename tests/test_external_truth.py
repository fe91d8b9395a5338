"""External truth: our evaluator + MiniLM reproduce MTEB's published all-MiniLM-L6-v2 STS scores
(cosine Spearman x100) within 0.01, and SentEval task sizes on the real mirror are the published ones."""
import json
import pytest
from conftest import run_sembed

# MTEB leaderboard, sentence-transformers/all-MiniLM-L6-v2, cos_sim Spearman (test split)
MTEB_PUBLISHED = {"STS12": 72.37, "STS13": 80.60, "STS14": 75.60, "STS15": 85.39,
                  "STS16": 78.99, "STS-B": 82.03, "SICK-R": 77.58}


@pytest.mark.slow
def test_minilm_matches_mteb_published(data_dir, tmp_path):
    out = tmp_path / "mteb.json"
    p = run_sembed("eval", "--model", "minilm-l6", "--pooler", "avg", "--protocol", "mteb",
                   "--data", data_dir, "--out", out)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())
    got = {t: res["tasks"][t]["spearman"] for t in MTEB_PUBLISHED}
    print(got)
    for t, ref in MTEB_PUBLISHED.items():
        assert abs(got[t] - ref) <= 0.01, f"{t}: ours {got[t]:.4f} vs MTEB {ref}"
    assert res["tasks"]["SICK-R"]["n"] == 9927
    assert {"code", "params_hash", "seed", "torch", "transformers", "device"} <= set(res["provenance"])
    assert json.loads((out.parent / "runs" / out.name).read_text())["git_commit"]   # the commit: in the run record beside it
