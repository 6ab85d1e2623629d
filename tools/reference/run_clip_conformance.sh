#!/usr/bin/env bash
# CLIP vision tower conformance of `svg2 conformance clip` against the public Wan 2.1 CLIP (ViT-H/14, full
# size) on a 1280x720 image: preprocessing ("pixels") and the first 31 blocks' output ("features"), float32
# (bound 1e-4, TF32 off on both sides) and bf16 (bound 2e-2 against the public bf16 autocast), under the
# official names; with transformers on the machine also transformers' CLIPVisionModel names against that
# model's hidden_states[-2] (float32, bound 1e-4). The bf16 rows against the float32 reference are
# information. Prints one row per comparison; exits 1 when any row is above its bound (after running all).
# Usage: run_clip_conformance.sh SVG2_BINARY WAN_REPO OUTDIR
set -uo pipefail
driver="$(dirname "$0")/clip_conformance.py"
source "$(dirname "$0")/conformance_common.sh"

python3 "$driver" prepare --wan-repo "$wan_repo" --out "$dir" || exit 1
for run in fp32:1e-4 bf16:2e-2; do
    dtype=${run%%:*} bound=${run##*:}
    ours="$dir/ours-official-$dtype.safetensors"
    "$svg2" conformance clip --weights "$dir/weights-official.safetensors" --inputs "$dir/inputs.safetensors" --out "$ours" \
        --dtype "$dtype" --device cuda || { status=1; rows+=("| official $dtype | svg2 failed | | |"); continue; }
    compare "official $dtype" "$dir/reference-$dtype.safetensors" "$ours" "$bound"
done
if [ -f "$dir/weights-transformers.safetensors" ]; then
    ours="$dir/ours-transformers-fp32.safetensors"
    if "$svg2" conformance clip --weights "$dir/weights-transformers.safetensors" --config "$dir/config-transformers.json" \
        --inputs "$dir/inputs.safetensors" --out "$ours" --dtype fp32 --device cuda; then
        compare "transformers fp32" "$dir/transformers-fp32.safetensors" "$ours" 1e-4
    else
        status=1
        rows+=("| transformers fp32 | svg2 failed | | |")
    fi
fi
[ -f "$dir/ours-official-bf16.safetensors" ] && compare "bf16 vs public fp32" "$dir/reference-fp32.safetensors" "$dir/ours-official-bf16.safetensors"
compare "public bf16 vs public fp32" "$dir/reference-fp32.safetensors" "$dir/reference-bf16.safetensors"

echo
echo "| run | pixels | features | bound |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
