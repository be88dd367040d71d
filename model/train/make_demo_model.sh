#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the demo model (model/demo): the tokenizer from the scenes' corpus, then training
# with internvl-train's defaults (3000 steps, batch 32, 112 px, seed 1; about 15 minutes on two
# cores). Pass --threads 1 after OUT_DIR for bit-identical reruns (slower).
# Usage: make_demo_model.sh BUILD_DIR OUT_DIR [internvl-train options...]
set -euo pipefail
build_dir=$1
out_dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$here/make_tokenizer.sh" "$build_dir" "$work"
"$build_dir/bin/internvl-train" --tokenizer "$work/tokenizer.model" --out "$out_dir" "$@"
