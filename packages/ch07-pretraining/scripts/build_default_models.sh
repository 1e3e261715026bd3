#!/usr/bin/env bash
# Rebuild llmpath's default and draft models into llmpath-core (shared/src/llmpath_core/models),
# with the comparisons their model cards show. Run from anywhere in the repository with the
# workspace synced (`uv sync`); about two CPU hours on 2 cores (the default model ~30 minutes, the
# draft ~6, the 4x larger capacity model ~75).
#
#   1. pack the bundled `mix` corpus (stories + CPython prose) with a 4096-token byte-level BPE;
#   2. train the default model (depth 6, ~3.4 M parameters) and the draft (depth 2, ~10x smaller)
#      for the same 500 steps of 32 x 256 tokens;
#   3. capacity check: a 4x larger model (depth 10) by the same recipe on the same steps and data;
#   4. compare them on held-out text with paired standard errors, then release both models.
#
# Same seed, same data, same steps give the same weights on the same machine and torch version.
# CH07 overrides the command (default: `uv run ch07-pretraining`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
work="${WORK:-.llmpath/build-models}"
dest="${DEST:-shared/src/llmpath_core/models}"
results="${RESULTS:-packages/ch07-pretraining/benchmarks/default-models}"
max_chars="${MAX_CHARS:-12000000}"
steps="${STEPS:-500}"
read -r -a ch07 <<< "${CH07:-uv run ch07-pretraining}"
mkdir -p "$work" "$results"

prepare_cmd="ch07-pretraining prepare --corpus mix --vocab-size 4096 --max-chars $max_chars --out DATA"
if [ ! -f "$work/data/meta.json" ]; then
    "${ch07[@]}" prepare --corpus mix --vocab-size 4096 --max-chars "$max_chars" \
        --out "$work/data" --json > "$work/data.json"
fi

# timed NAME ARGS...: run `ch07-pretraining train ARGS`, write its wall-clock seconds and result
# (a run that already finished in $work is kept, so an interrupted build picks up where it stopped)
timed() {
    local name=$1 start
    shift
    [ -f "$work/$name.seconds" ] && return
    start=$(date +%s)
    "${ch07[@]}" train --preset default --data "$work/data" --seed 0 --eval-every 100 \
        --checkpoint-every 0 --out "$work/$name" --json "$@" > "$work/$name.json"
    echo $(($(date +%s) - start)) > "$work/$name.seconds"
}
timed default --max-steps "$steps"
timed draft --depth 2 --max-steps "$steps"
timed capacity-d10 --depth 10 --max-steps "$steps"

"${ch07[@]}" compare "default=$work/default" "draft=$work/draft" --source mix:validation \
    --title "The draft model (depth 2) against the default (depth 6)" \
    --note "Both trained by the same recipe on the same $steps steps of 32 x 256 tokens." \
    --out "$results/draft-vs-default.json"
for split in validation test; do
    suffix=$([ "$split" = validation ] && echo "" || echo "-$split")
    "${ch07[@]}" compare "default (depth 6)=$work/default" \
        "depth 10 (4x parameters)=$work/capacity-d10" --source "mix:$split" \
        --title "Capacity: the default model against a 4x larger model at the same tokens" \
        --note "Both trained by the default recipe on the same data, seed and $steps steps of 32 x 256 tokens." \
        --out "$results/capacity$suffix.json"
done
for file in "$work"/*.seconds "$work"/*.json; do cp "$file" "$results/"; done

note="${NOTE:-Trained one run after another on 2 CPU cores.}"
rebuild="# or all of it, with the draft model and the comparisons: bash packages/ch07-pretraining/scripts/build_default_models.sh"
"${ch07[@]}" release "$work/draft" --name draft --out "$dest/draft" \
    --summary "llmpath's draft model: a 2-layer Llama with the default model's tokenizer, for speculative decoding." \
    --train-seconds "$(cat "$work/draft.seconds")" --note "$note" \
    --comparison "$results/draft-vs-default.json" \
    --command "uv run $prepare_cmd" \
    --command "uv run ch07-pretraining train --preset default --depth 2 --data DATA --max-steps $steps --seed 0 --out RUN" \
    --command "uv run ch07-pretraining release RUN --name draft --out $dest/draft" \
    --command "$rebuild"
"${ch07[@]}" release "$work/default" --name default --out "$dest/default" \
    --summary "llmpath's default model: a 6-layer Llama trained from zero on the bundled stories and CPython prose." \
    --train-seconds "$(cat "$work/default.seconds")" --note "$note" \
    --comparison "$results/capacity.json" --comparison "$results/draft-vs-default.json" \
    --command "uv run $prepare_cmd" \
    --command "uv run ch07-pretraining train --preset default --data DATA --max-steps $steps --seed 0 --out RUN" \
    --command "uv run ch07-pretraining release RUN --name default --out $dest/default" \
    --command "$rebuild"
cp "$dest/default/card.json" "$results/default-card.json"
cp "$dest/draft/card.json" "$results/draft-card.json"
