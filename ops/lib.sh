# Shared by ops/run, ops/test and ops/bench: install what is missing, configure, build.
# Sourced, not run.
set -euo pipefail

ECONQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The Debian packages econq builds, tests and runs with.
ECONQ_PACKAGES=(
  build-essential cmake pkg-config git curl ca-certificates
  libuv1-dev libnng-dev libcjson-dev libcurl4-openssl-dev liblmdb-dev lmdb-utils
  libxlsxwriter-dev check libsubunit-dev libhttp-parser-dev libcsv-dev libgsl-dev
  libzip-dev libexpat1-dev libfreexl-dev libcairo2-dev libssl-dev libxxhash-dev
  libpcre2-dev json-schema-test-suite python3 python3-openpyxl python3-jsonschema
  prometheus python3-yaml
)

# Installs the packages that are missing: with apt-get when root, otherwise prints the line.
eq_install_deps() {
  local missing=() p
  for p in "${ECONQ_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "econq needs these Debian packages; install them as root, then run this again:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q "${missing[@]}"
  fi
}

# eq_build DIR [cmake args...]: configures once, then builds incrementally.
eq_build() {
  local dir=$1; shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$ECONQ_ROOT" -B "$dir" "$@" >/dev/null
  fi
  local rc=0
  cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1 || rc=$?
  grep -vE '^\[ *[0-9]+%\]|^-- |Consolidate compiler' "$dir/build.log" || true
  return $rc
}
