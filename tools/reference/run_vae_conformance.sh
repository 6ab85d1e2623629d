#!/usr/bin/env bash
# Wan VAE conformance of `svg2 conformance vae` against the public Wan 2.1 VAE at full size: decode of
# latents [1, 16, 5, 60, 104] and encode of a 17-frame 832x480 video, float32 (bound 1e-4, TF32 off on
# both sides) and bf16 (bound 2e-2 against the public bf16 autocast; the row against the float32
# reference is information). Each svg2 run also decodes random latents for 81 frames of 1280x720 and
# reports its time and device memory. Prints one row per comparison; exits 1 when any row is above
# its bound (after running all of them).
# Usage: run_vae_conformance.sh SVG2_BINARY WAN_REPO OUTDIR
set -uo pipefail
driver="$(dirname "$0")/vae_conformance.py"
source "$(dirname "$0")/conformance_common.sh"

python3 "$driver" prepare --wan-repo "$wan_repo" --out "$dir" || exit 1
for run in fp32:1e-4 bf16:2e-2; do
    dtype=${run%%:*} bound=${run##*:}
    ours="$dir/ours-$dtype.safetensors"
    "$svg2" conformance vae --weights "$dir/vae.safetensors" --inputs "$dir/inputs.safetensors" --out "$ours" \
        --dtype "$dtype" --device cuda --time-decode 81x720x1280 \
        || { status=1; rows+=("| $dtype | svg2 failed | | |"); continue; }
    compare "$dtype" "$dir/reference-$dtype.safetensors" "$ours" "$bound"
done
[ -f "$dir/ours-bf16.safetensors" ] && compare "bf16 vs public fp32" "$dir/reference-fp32.safetensors" "$dir/ours-bf16.safetensors"
compare "public bf16 vs public fp32" "$dir/reference-fp32.safetensors" "$dir/reference-bf16.safetensors"

echo
echo "| run | decoded | encoded | bound |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
