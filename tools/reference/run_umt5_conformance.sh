#!/usr/bin/env bash
# umT5 encoder conformance of `svg2 conformance umt5` against the public Wan 2.1 encoder (official names)
# and transformers' UMT5EncoderModel (its own names), at two sizes, float32 (bound 1e-4) and bf16 (bound
# 2e-2). Prints one row per run and exits 1 when any row is above its bound (after running all of them).
# Usage: run_umt5_conformance.sh SVG2_BINARY WAN_REPO OUTDIR
set -uo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 SVG2_BINARY WAN_REPO OUTDIR" >&2
    exit 2
fi
svg2=$1 wan_repo=$2 outdir=$3
driver="$(dirname "$0")/umt5_conformance.py"
rows=()
status=0

python3 "$driver" prepare --wan-repo "$wan_repo" --out "$outdir" || exit 1
for size in full-width-2-layers reduced-width-24-layers; do
    dir="$outdir/$size"
    for names in official:reference transformers:transformers; do
        IFS=: read -r naming reference <<< "$names"
        for run in fp32:1e-4 bf16:2e-2; do
            IFS=: read -r dtype bound <<< "$run"
            label="$size $naming $dtype"
            ours="$dir/ours-$naming-$dtype.safetensors"
            "$svg2" conformance umt5 --weights "$dir/weights-$naming.safetensors" --inputs "$dir/inputs.safetensors" \
                --dtype "$dtype" --device cuda --out "$ours" || { status=1; rows+=("| $label | svg2 failed |"); continue; }
            row=$(python3 "$driver" compare --label "$label" --reference "$dir/$reference-$dtype.safetensors" \
                --ours "$ours" --bound "$bound") || status=1
            rows+=("$row")
        done
    done
done

echo
echo "| run | output | trimmed (worst prompt) | unpadded (worst prompt) | bound |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
