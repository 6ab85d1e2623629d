#!/usr/bin/env bash
# Wan conformance of `svg2 bench-model` against the public Wan 2.1 model, for the three variants:
# float32 (bound 1e-4) and bf16 (bound 2e-2) with --numerics reference, and bf16 with --numerics fast
# against the bf16 reference (bound 5e-2; the fast path may differ more). Prints one row per run and
# exits 1 when any row is above its bound (after running all of them).
# Usage: run_conformance.sh SVG2_BINARY WAN_REPO OUTDIR
set -uo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 SVG2_BINARY WAN_REPO OUTDIR" >&2
    exit 2
fi
svg2=$1 wan_repo=$2 outdir=$3
driver="$(dirname "$0")/wan_conformance.py"
rows=()
status=0

compare() {  # label reference ours bound
    local row
    row=$(python3 "$driver" compare --label "$1" --reference "$2" --ours "$3" --bound "$4") || status=1
    rows+=("$row")
}

for pair in t2v-1.3B:1.3b t2v-14B:14b i2v-14B:i2v-14b; do
    variant=${pair%%:*} model=${pair##*:} dir="$outdir/$variant"
    python3 "$driver" prepare --wan-repo "$wan_repo" --variant "$variant" --layers 2 --out "$dir" || { status=1; continue; }
    for run in fp32:reference:1e-4 bf16:reference:2e-2 bf16:fast:5e-2; do
        IFS=: read -r dtype numerics bound <<< "$run"
        ours="$dir/ours-$dtype-$numerics.safetensors"
        "$svg2" bench-model --model "$model" --layers 2 --dtype "$dtype" --numerics "$numerics" \
            --weights "$dir/diffusion_pytorch_model.safetensors" --inputs "$dir/inputs.safetensors" --out "$ours" \
            || { status=1; rows+=("| $variant $dtype $numerics | svg2 failed |"); continue; }
        compare "$variant $dtype $numerics" "$dir/reference-$dtype.safetensors" "$ours" "$bound"
    done
done

echo
echo "| run | block.0 | block.1 | output | bound |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
