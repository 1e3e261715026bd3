#!/usr/bin/env bash
# Rebuild llmpath's default and draft models into llmpath-core (shared/src/llmpath_core/models).
#
# Run from anywhere in the repository, with the workspace synced (`uv sync`). The two trainings
# run side by side, one torch thread each: on 2 CPU cores the draft takes about 6 minutes and the
# default model under 40 (measured with other jobs sharing the cores).
# Same seed, same data, same steps give the same weights on the same machine and torch version.
set -euo pipefail
cd "$(dirname "$0")/../../.."
work="${WORK:-.llmpath/build-models}"
dest=shared/src/llmpath_core/models
steps="${STEPS:-600}"
export OMP_NUM_THREADS=1

uv run ch07-pretraining prepare --corpus stories --vocab-size 4096 --max-chars 6000000 \
    --out "$work/data"

# timed NAME CMD...: run CMD, write its wall-clock seconds to $work/NAME.seconds
timed() {
    local name=$1 start
    shift
    start=$(date +%s)
    "$@"
    echo $(($(date +%s) - start)) > "$work/$name.seconds"
}
timed default uv run ch07-pretraining train --preset default --data "$work/data" \
    --max-steps "$steps" --seed 0 --out "$work/default" --json > "$work/default.json" &
default_pid=$!
timed draft uv run ch07-pretraining train --preset default --depth 2 --data "$work/data" \
    --max-steps "$steps" --seed 0 --out "$work/draft" --json > "$work/draft.json" &
draft_pid=$!
wait "$default_pid" "$draft_pid"
default_seconds=$(cat "$work/default.seconds")
draft_seconds=$(cat "$work/draft.seconds")

note="The default and draft models trained side by side, one torch thread each."
cmds=(
    --note "$note"
    --command "uv run ch07-pretraining prepare --corpus stories --vocab-size 4096 --max-chars 6000000 --out DATA"
)
uv run ch07-pretraining release "$work/default" --name default --out "$dest/default" \
    --summary "llmpath's default model: a 5-layer Llama trained from zero on the bundled stories." \
    --train-seconds "$default_seconds" "${cmds[@]}" \
    --command "uv run ch07-pretraining train --preset default --data DATA --max-steps $steps --seed 0 --out RUN" \
    --command "uv run ch07-pretraining release RUN --name default --out $dest/default" \
    --command "# or all of it, with the draft model: bash packages/ch07-pretraining/scripts/build_default_models.sh"
uv run ch07-pretraining release "$work/draft" --name draft --out "$dest/draft" \
    --summary "llmpath's draft model: a 2-layer Llama with the default model's tokenizer, for speculative decoding." \
    --train-seconds "$draft_seconds" "${cmds[@]}" \
    --command "uv run ch07-pretraining train --preset default --depth 2 --data DATA --max-steps $steps --seed 0 --out RUN" \
    --command "uv run ch07-pretraining release RUN --name draft --out $dest/draft" \
    --command "# or all of it, with the default model: bash packages/ch07-pretraining/scripts/build_default_models.sh"
