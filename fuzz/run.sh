#!/bin/sh
# Run one harness for SECONDS (default 600) at low priority. The seeds in fuzz/corpus/NAME are
# copied to a working corpus outside the tree ($FUZZ_WORK, default /tmp/ecluse-fuzz/NAME);
# the log goes to $FUZZ_WORK/../NAME.log, crash inputs to fuzz/artifacts/.
# Usage: sh fuzz/run.sh hprim_sante 600
set -eu
name=$1; secs=${2:-600}
work=${FUZZ_WORK:-/tmp/ecluse-fuzz/$name}
mkdir -p "$work" fuzz/artifacts
cp fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
ECLUSE_FUZZ_CODEC=$name exec nice -n 10 .venv/bin/python fuzz/fuzz_codec.py "$work" \
  -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="fuzz/artifacts/$name-" > "$work/../$name.log" 2>&1
