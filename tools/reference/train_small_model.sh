#!/usr/bin/env bash
# Trains the small footage model on one H100 in two calls of at most 10 minutes each; the run folder (an ignored path
# of the checkout, kept while the machine stays warm) carries the checkpoint from one to the next.
#
#   tools/reference/train_small_model.sh first  SVG2 CLIPS RUN OUT
#   tools/reference/train_small_model.sh second SVG2 CLIPS RUN OUT
#
# first:  starts the run with a 17.5-minute training budget (the step count is fixed after 20 timed steps) and stops
#         after at most 9.2 minutes with a checkpoint and an export of the moving-average weights.
# second: resumes the run and finishes it; the export then holds the final weights and the sample grid.
#
# The recipe: batch 8, learning rate 4e-4 (warm-up 200 steps, cosine to 10%), noise levels logit-normal with shift 3,
# clips drawn with source balance 0.75 (the sources with few clips drawn more often) from the first step.
#
# SVG2 is the self-contained publish of src/Svg2.Cli built with -p:LibTorch=external; PyTorch's libtorch is put on
# the library path here. Under OUT: the console logs, GPU memory samples, the exported model in parts of 15 MiB
# (files coming back from the machine are limited to 16 MiB) and run.tgz with the logs, plots and commands.
# Rebuild the model file with: cat OUT/model.safetensors.part-* > models/small-footage/model.safetensors
#
# Environment: BUDGET_MINUTES (17.5), FIRST_MINUTES (9.2), BATCH (8), RECIPE (more options for the new run).
set -euo pipefail
stage=$1 svg2=$2 clips=$3 run=$4 out=$5
budget=${BUDGET_MINUTES:-17.5} first_minutes=${FIRST_MINUTES:-9.2} batch=${BATCH:-8}
read -r -a recipe <<< "${RECIPE:-}"
torch_lib=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib
export LD_LIBRARY_PATH=$torch_lib:${LD_LIBRARY_PATH:-}
mkdir -p "$out"

pack() {
    split -b 15m -d "$run/export/model.safetensors" "$out/model.safetensors.part-"
    tar -czf "$out/run.tgz" -C "$run/export" --exclude model.safetensors .
}

nvidia-smi --query-gpu=timestamp,memory.used,memory.total,utilization.gpu --format=csv -lms 2000 > "$out/gpu-$stage.csv" &
monitor=$!
trap 'kill $monitor 2>/dev/null || true' EXIT

case $stage in
    first)
        "$svg2" train --data "$clips" --run "$run" --batch "$batch" --lr 4e-4 --warmup 200 --source-balance 0.75 \
            --budget-minutes "$budget" --max-minutes "$first_minutes" --log-every 100 "${recipe[@]}" 2>&1 | tee "$out/train-1.txt"
        ;;
    second)
        "$svg2" train --resume "$run" --data "$clips" --max-minutes 9.5 --log-every 100 2>&1 | tee "$out/train-2.txt"
        ;;
    *)
        echo "usage: $0 first|second SVG2 CLIPS RUN OUT" >&2
        exit 2
        ;;
esac
pack
