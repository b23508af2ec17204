#!/usr/bin/env bash
# Runs every test and prints the totals from the TRX results as the last line: "N passed, N failed".
#   tools/test.sh           everything (CI)
#   tools/test.sh --fast    only tests that need nothing beyond .NET: no Python references, Fashion-MNIST,
#                           ffmpeg, Chromium, promtool, root, published binary, packaging tools or TorchSharp training
#                           (the categories in tests/Edge.TestSupport/Needs.cs)
set -uo pipefail
cd "$(dirname "$0")/.."
# --fast needs nothing beyond .NET: no Debian packages are installed for it.
[ "${1:-}" = "--fast" ] || tools/setup.sh || exit 1

results=TestResults
rm -rf "$results"
dotnet build Edge.sln -c Release --verbosity quiet --nologo 2>&1 || exit 1
# One results folder per test project, so no two TRX files can collide on a timestamped name.
filter=()
if [ "${1:-}" = "--fast" ]; then
  filter=(--filter "TestCategory!=Python&TestCategory!=FashionMnist&TestCategory!=Ffmpeg&TestCategory!=Chromium&TestCategory!=Promtool&TestCategory!=Root&TestCategory!=Aot&TestCategory!=Packaging&TestCategory!=Training")
fi
status=0
for project in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  dotnet test "$project" -c Release --no-build "${filter[@]}" --logger "trx;LogFileName=$name.trx" --results-directory "$results/$name" 2>&1 || status=1
done

passed=0
failed=0
shopt -s nullglob
trx=("$results"/*/*.trx)
for f in "${trx[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  x=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${x:-0}))
done
if ((${#trx[@]} == 0)); then
  echo "test: no TRX results were written" >&2
  failed=$((failed + 1))
fi
echo "${passed} passed, ${failed} failed"
if ((status != 0 || failed > 0 || passed == 0)); then exit 1; fi
