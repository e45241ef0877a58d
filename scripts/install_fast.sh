#!/usr/bin/env bash
# `make install-fast`: a second venv whose dlib is built from source against OpenBLAS.
#
# The wheel is built once and cached outside the repo, keyed by dlib version, compiler and
# build flags, so fresh clones (and CI on the same machine) reuse it; `make install` stays
# the quick prebuilt dlib-bin path.  Usage: scripts/install_fast.sh VENV PYTHON
set -euo pipefail

VENV=${1:-.venv-fast}
PYTHON=${2:-python3}
DLIB_VERSION=20.0.1
CACHE=${LOOKALIKE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lookalike/wheels}
# dlib's own choice (Release, -O3, SSE4/AVX when the host has them), the build measured in
# README's "Fast encoder"; FAST_CXXFLAGS adds flags (e.g. -march=native) for experiments.
export CXXFLAGS=${FAST_CXXFLAGS:-}
export DLIB_USE_BLAS=ON DLIB_USE_LAPACK=ON DLIB_USE_CUDA=OFF DLIB_NO_GUI_SUPPORT=ON
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

say() { echo "install-fast: $*" >&2; }

system_packages() {
    if [ -e /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] \
        || [ -e /usr/include/openblas/cblas.h ] || [ -e /usr/include/cblas.h ]; then
        return
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing libopenblas-dev liblapack-dev cmake (apt-get)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            libopenblas-dev liblapack-dev cmake g++ >/dev/null
    else
        say "OpenBLAS headers not found and cannot install them here (needs root and apt-get)."
        say "Install libopenblas-dev and liblapack-dev (or your system's equivalent) and a"
        say "C++ compiler, then run 'make install-fast' again.  Without them dlib builds"
        say "without BLAS and encodes no faster than dlib-bin."
        exit 1
    fi
}

cache_key() {
    local compiler
    compiler=$("${CXX:-c++}" --version | head -1)
    printf '%s\n' "$DLIB_VERSION" "$compiler" "$CXXFLAGS" "$DLIB_USE_BLAS" "$DLIB_USE_LAPACK" \
        "$DLIB_USE_CUDA" "$DLIB_NO_GUI_SUPPORT" | sha256sum | cut -c1-12
}

build_wheel() {
    local dir=$1
    mkdir -p "$dir"
    say "building dlib $DLIB_VERSION with OpenBLAS (${CXX:-c++}, CXXFLAGS=$CXXFLAGS); about 8 min on 2 cores"
    "$PYTHON" -m venv "$dir/build-venv"
    "$dir/build-venv/bin/python" -m pip install --quiet --upgrade pip
    "$dir/build-venv/bin/python" -m pip wheel --no-cache-dir --no-deps --no-binary dlib \
        "dlib==$DLIB_VERSION" \
        -w "$dir/tmp"
    mv "$dir"/tmp/dlib-*.whl "$dir/"
    rm -rf "$dir/tmp" "$dir/build-venv"
}

main() {
    system_packages
    local dir
    dir="$CACHE/dlib-$DLIB_VERSION-$(cache_key)"
    local tag
    tag=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    local wheel
    wheel=$(ls "$dir"/dlib-"$DLIB_VERSION"-"$tag"-*.whl 2>/dev/null | head -1 || true)
    if [ -z "$wheel" ]; then
        build_wheel "$dir"
        wheel=$(ls "$dir"/dlib-"$DLIB_VERSION"-"$tag"-*.whl | head -1)
    else
        say "reusing cached wheel $wheel"
    fi
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    "$VENV/bin/python" -m pip install --quiet --no-deps face_recognition==1.3.0
    # lookalike depends on dlib-bin; both install the same `dlib` module, so swap it out.
    "$VENV/bin/python" -m pip uninstall --quiet -y dlib-bin
    "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheel"
    "$VENV/bin/python" -c 'from lookalike.faces import dlib_info; i = dlib_info(); \
assert i["blas"], f"dlib in the fast venv is not BLAS-linked: {i}"; print("install-fast:", i)'
}

main
