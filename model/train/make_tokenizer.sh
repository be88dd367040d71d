#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the demo model's tokenizer: a SentencePiece BPE model trained with Debian's spm_train on
# every caption, label and prompt of the synthetic scenes, with the LLaMA conventions the
# InternVL tokenizer follows (<unk>=0, <s>=1, </s>=2, no pad piece, identity normalisation,
# byte fallback so any text still encodes, digits split). Single-threaded: the output is
# byte-identical from run to run.
# Usage: make_tokenizer.sh BUILD_DIR OUT_DIR   (writes OUT_DIR/tokenizer.model and the corpus)
set -euo pipefail
build_dir=$1
out_dir=$2
mkdir -p "$out_dir"
"$build_dir/bin/internvl-scenes" corpus "$out_dir/corpus.txt"
cd "$out_dir"
spm_train --input=corpus.txt --model_prefix=tokenizer --model_type=bpe --vocab_size=512 \
  --hard_vocab_limit=false --byte_fallback=true --character_coverage=1.0 \
  --normalization_rule_name=identity --split_digits=true \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --num_threads=1 --minloglevel=2
rm -f tokenizer.vocab
echo "$out_dir/tokenizer.model: $(stat -c %s tokenizer.model) bytes"
