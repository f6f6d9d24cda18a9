#!/bin/sh
# Builds and runs the forecast benchmark in a Release build (one core, 3 fits per method and
# series). R is not needed: R's numbers come from tests/fixtures/forecast/reference.json,
# written by `Rscript bench/forecast/reference.R` (needs r-cran-forecast and r-cran-jsonlite).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench-forecast}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_forecast -j2 >/dev/null
cd "$root" && exec taskset -c 0 "$build/workers/forecast/bench_forecast" "${1:-3}"
