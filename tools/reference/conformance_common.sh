# Sourced by run_vae_conformance.sh and run_clip_conformance.sh after they set `driver` (their Python
# driver): checks the arguments SVG2_BINARY WAN_REPO OUTDIR and sets svg2, wan_repo and dir; `compare
# LABEL REFERENCE OURS [BOUND]` adds the driver's markdown row to `rows` and sets status 1 when the row
# is above its bound.
if [ $# -ne 3 ]; then
    echo "usage: $0 SVG2_BINARY WAN_REPO OUTDIR" >&2
    exit 2
fi
svg2=$1 wan_repo=$2 dir=$3
rows=()
status=0

compare() {  # label reference ours [bound]
    local row
    row=$(python3 "$driver" compare --label "$1" --reference "$2" --ours "$3" ${4:+--bound "$4"}) || status=1
    rows+=("$row")
}
