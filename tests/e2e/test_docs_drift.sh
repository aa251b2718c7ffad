#!/usr/bin/env bash
# docs/commands.md is generated from the command declarations; fail when they disagree.
# Fix: `make docs` (= reconbench help --markdown > docs/commands.md).
set -euo pipefail
diff -u "$RECONBENCH_SOURCE_DIR/docs/commands.md" <("$RECONBENCH" help --markdown) \
  || { echo "docs/commands.md is out of date: run 'make docs'"; exit 1; }
# Every command's --help works and mentions its own name.
for cmd in $("$RECONBENCH" help | awk '/^Commands:/{f=1;next} f && NF {print $1}'); do
  # Capture first: `grep -q` closing the pipe early would SIGPIPE the writer under pipefail.
  help=$("$RECONBENCH" "$cmd" --help) || { echo "$cmd --help failed"; exit 1; }
  grep -q -- "$cmd" <<<"$help" || { echo "$cmd --help does not name the command"; exit 1; }
done
echo "docs in sync"
