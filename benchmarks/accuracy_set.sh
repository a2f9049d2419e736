#!/usr/bin/env bash
# Renders an accuracy set (docs/accuracy.md): 30 portrait clips and 2 on a real face video, seeds FIRST..FIRST+31.
#   bash benchmarks/accuracy_set.sh OUT [FIRST]   then   spasmscan evaluate OUT/portrait  and  OUT/realbase
# Held-out sets used up: 5000 to 11000 (docs/accuracy.md gives their figures).
# Development: 4000 and below. A new held-out set needs fresh seeds (12000 and up).
set -euo pipefail
S=${SPASMSCAN:-spasmscan}
# The real face video: ../shared beside the checkout unless REAL_FACE names it (found before any cd).
W=${REAL_FACE:-$(cd "$(dirname "$0")/../.." && pwd)/shared/real-faces/WolfgangLanger_Pexels.mp4}
OUT=${1:-accuracy-set}; FIRST=${2:-7000}
mkdir -p "$OUT/portrait" "$OUT/realbase"; cd "$OUT/portrait"
FPS=(25 30 60)
NUI=(1 1.5 0.5 2)
seed=$FIRST
i=0
for k in $(seq 0 11); do  # primary HFS
  side=$([ $((k % 2)) -eq 0 ] && echo left || echo right)
  mouth=$([ $((k % 3)) -eq 0 ] && echo --mouth || ([ $((k % 3)) -eq 1 ] && echo --no-mouth || echo ""))
  $S simulate hfs_${side}_$seed.mp4 --label primary_hfs --side $side --duration 60 --fps ${FPS[$((i % 3))]} --nuisance ${NUI[$((i % 4))]} --seed $seed $mouth
  seed=$((seed + 1)); i=$((i + 1))
done
for k in $(seq 0 7); do  # synkinesis
  side=$([ $((k % 2)) -eq 0 ] && echo left || echo right)
  $S simulate syn_${side}_$seed.mp4 --label synkinesis --side $side --duration 60 --fps ${FPS[$((i % 3))]} --nuisance ${NUI[$((i % 4))]} --seed $seed
  seed=$((seed + 1)); i=$((i + 1))
done
for k in $(seq 0 4); do  # none
  $S simulate none_$seed.mp4 --label none --duration 60 --fps ${FPS[$((i % 3))]} --nuisance ${NUI[$((i % 4))]} --seed $seed
  seed=$((seed + 1)); i=$((i + 1))
done
for k in $(seq 0 4); do  # hard negatives
  $S simulate hardneg_$seed.mp4 --label none --hard-negative --duration 60 --fps ${FPS[$((i % 3))]} --nuisance ${NUI[$((i % 4))]} --seed $seed
  seed=$((seed + 1)); i=$((i + 1))
done
cd ../realbase
$S simulate wl_hfs_right_$((FIRST + 30)).mp4 --label primary_hfs --side right --duration 40 --seed $((FIRST + 30)) --base $W
$S simulate wl_none_$((FIRST + 31)).mp4 --label none --duration 40 --seed $((FIRST + 31)) --base $W
echo done
