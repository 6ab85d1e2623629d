#!/usr/bin/env bash
# Memory and speed of Wan 2.1 T2V 14B at 720p on one GPU without its checkpoint: `svg2 generate --random-weights 14B`
# builds umT5-XXL, the 14B transformer and the VAE with seeded random weights on the device (bf16; the video is
# noise), encodes the prompt and the negative prompt, frees umT5 (as Wan's --offload_model does), denoises 81
# frames of 1280x720 for 2 steps and decodes. svg2 runs at density 0.15 with one dense warm-up step. For each method it writes METHOD.json (the timing table with the
# peak device memory of text encoding, each denoising phase and decoding) and METHOD.log under OUTDIR; the video
# goes to a temporary folder. One method takes about 3 to 5 minutes on an H100; run one per call where a call
# is limited to 10 minutes.
# Usage: run_14b_memory.sh SVG2_BINARY OUTDIR [METHOD...]   (methods: dense, svg2; default both)
# GUIDANCE_MODE=sequential runs the two guidance passes one after the other, as Wan's own loop does (default batched).
set -uo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 SVG2_BINARY OUTDIR [METHOD...]" >&2
    exit 2
fi
svg2=$1 dir=$2
shift 2
methods=("$@")
[ ${#methods[@]} -eq 0 ] && methods=(dense svg2)
torch_lib=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$dir"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for method in "${methods[@]}"; do
    case $method in
        dense) extra=() ;;
        # One dense warm-up step, then one sparse step: the report then has both denoising phases.
        svg2) extra=(--density 0.15 --dense-steps 0.5) ;;
        *) echo "unknown method $method (dense or svg2)" >&2; exit 2 ;;
    esac
    start=$(date +%s)
    "$svg2" generate --random-weights 14B --prompt "A red kite flies over a grey sea, seen from a moving boat." \
        --size 1280x720 --frames 81 --steps 2 --method "$method" "${extra[@]}" --guidance-mode "${GUIDANCE_MODE:-batched}" \
        --device cuda --dtype bf16 --out "$scratch/$method.mp4" --report "$dir/$method.json" > "$dir/$method.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || status=1
    echo "$method: exit $rc, $(( $(date +%s) - start )) s"
    tail -n 25 "$dir/$method.log"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader >> "$dir/$method.log" 2>/dev/null
done
exit $status
