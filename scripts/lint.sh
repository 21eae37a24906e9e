#!/usr/bin/env bash
# Lint: clang-format conformance and cppcheck over the C sources.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tools tests bench examples -name '*.[ch]')
if ! clang-format --dry-run --Werror $files 2>/tmp/vmrt-format.log; then
  head -n 40 /tmp/vmrt-format.log
  echo "lint: clang-format: files differ from .clang-format (run 'make format')"
  status=1
fi
if ! cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
     --suppress=missingIncludeSystem -D__x86_64__ -DVMRT_BUILDING -I include -I src $files; then
  echo "lint: cppcheck found problems"
  status=1
fi
exit $status
