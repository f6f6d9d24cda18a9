#!/bin/sh
# `cmake --install` of the econq_client component puts libeconq (shared and static), econq.h
# and econq.pc under a fresh prefix; a program then builds against them through pkg-config,
# once with the shared and once with the static library, and runs.
# usage: install_check.sh BUILD_DIR SOURCE_DIR CC [SANITIZE]
set -eu
build=$1 src=$2 cc=$3 san=${4:-}
prefix=$(mktemp -d "${TMPDIR:-/tmp}/econq-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --component econq_client --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name econq.pc)
test -n "$pc"
test -x "$prefix/bin/econq"
test -f "$(dirname "$pc")/../../include/econq/econq.h" || test -f "$prefix/include/econq/econq.h"
export PKG_CONFIG_PATH=$(dirname "$pc")
flags="-std=c11 -Wall -Werror"
if [ -n "$san" ]; then flags="$flags -fsanitize=$san"; fi
libdir=$(pkg-config --variable=libdir econq)
# shellcheck disable=SC2046
"$cc" $flags "$src/tests/client/install_user.c" $(pkg-config --cflags --libs econq) \
    -Wl,-rpath,"$libdir" -o "$prefix/user_shared"
"$prefix/user_shared"
# shellcheck disable=SC2046
"$cc" $flags "$src/tests/client/install_user.c" $(pkg-config --cflags econq) \
    "$libdir/libeconq.a" $(pkg-config --libs libcurl libcjson libcrypto) -lpthread \
    -o "$prefix/user_static"
"$prefix/user_static"
# Only the public API is exported from the shared library.
if nm -D --defined-only "$libdir/libeconq.so" | awk '$2 == "T" {print $3}' | grep -v '^econq_'; then
    echo "libeconq.so exports symbols outside econq_" >&2
    exit 1
fi
echo "install check passed"
