#!/usr/bin/env bash
# Whole-pipeline conformance of `svg2 generate` (text to video) against the public Wan 2.1 pipeline (WanT2V of
# wan/text2video.py) on a tiny random Wan folder: 17 frames of 256x256, 4 UniPC steps, guidance 5, from the
# noise the public pipeline drew. Our runs: float32 (umT5 in float32, bound 1e-4) and bf16 as Wan runs it
# (umT5 in bf16, the VAE in float32 as WanT2V builds it, bound 2e-2), each with batched and sequential
# guidance, the transformer in reference numerics, dense attention. Information rows: our bf16 run with the
# VAE in bf16 (the default of --dtype bf16) and the public bf16 pipeline against the public float32 one.
# Prints one row per comparison (noise, the latents after each step, the final latents, the decoded video)
# and writes them to OUTDIR/results.md with the logs and JSON reports of our runs; the model folder (about 0.6 GB,
# mostly the VAE) and the tensors stay in WORKDIR (default: a temporary folder, removed at the end unless WORKDIR is
# set). Exits 1 when any row is above its bound (after running all of them).
# Usage: [WORKDIR=DIR] run_pipeline_conformance.sh SVG2_BINARY WAN_REPO OUTDIR
set -uo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 SVG2_BINARY WAN_REPO OUTDIR" >&2
    exit 2
fi
svg2=$1 wan_repo=$2 results=$3
mkdir -p "$results"
if [ -n "${WORKDIR:-}" ]; then
    dir=$WORKDIR
else
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
fi
driver="$(dirname "$0")/pipeline_conformance.py"
torch_lib=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
rows=()
status=0

compare() {  # label reference ours what [bound]
    local row
    row=$(python3 "$driver" compare --label "$1" --reference "$2" --ours "$3" --what "$4" ${5:+--bound "$5"}) || status=1
    rows+=("$row")
}

start=$(date +%s)
python3 "$driver" prepare --wan-repo "$wan_repo" --out "$dir" 2>&1 | tee "$results/prepare.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
cp "$dir/request.json" "$results/"
echo "prepare: $(( $(date +%s) - start )) s"
request="$dir/request.json"
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end='')" "$request" "$1"; }
prompt=$(field prompt) negative=$(field negative_prompt)
common=(--model-dir "$dir" --prompt "$prompt" --negative-prompt "$negative" --size "$(field width)x$(field height)"
        --frames "$(field frames)" --steps "$(field steps)" --guidance "$(field guidance)" --shift "$(field shift)"
        --solver unipc --method dense --numerics reference --device cuda --noise "$dir/noise.safetensors")

ours() {  # name reference what bound generate-options...
    local name=$1 reference=$2 what=$3 bound=$4
    shift 4
    local out="$dir/ours-$name.safetensors"
    "$svg2" generate "${common[@]}" "$@" --save-tensors "$out" --out "$dir/ours-$name.mp4" --report "$results/ours-$name.json" \
        > "$results/ours-$name.log" 2>&1 \
        || { status=1; rows+=("| $name | svg2 failed (see ours-$name.log) | |"); tail -5 "$results/ours-$name.log"; return; }
    compare "$name" "$dir/reference-$reference.safetensors" "$out" "$what" "$bound"
}

for guidance in batched sequential; do
    ours "fp32-$guidance" fp32 all 1e-4 --guidance-mode "$guidance" --dtype f32 --t5-dtype f32
    ours "bf16-$guidance" bf16 all 2e-2 --guidance-mode "$guidance" --dtype bf16 --vae-dtype f32
done
ours "bf16-batched-vae-bf16" bf16 all "" --guidance-mode batched --dtype bf16
compare "public bf16 vs public fp32" "$dir/reference-fp32.safetensors" "$dir/reference-bf16.safetensors" all
echo "total: $(( $(date +%s) - start )) s"

steps=$(field steps)
header="| run | noise |"
for ((i = 0; i < steps; i++)); do header+=" latents.$i |"; done
header+=" final latents | video | bound |"
separator="|$(echo "${header#|}" | sed 's/[^|]*|/---|/g')"
{
    echo "$header"
    echo "$separator"
    printf '%s\n' "${rows[@]}"
} | tee "$results/results.md"
exit $status
