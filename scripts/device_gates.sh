#!/usr/bin/env bash
# One prepared run on a lent GPU machine (results go under docs/results/gate-probes/): the CUDA paths
# checked on `smoke` (fp32 first; precision auto, i.e. bf16 there, beside the rest), then in parallel the
# `default` preset on three seeds and the Gate probes of docs/results/gate-probes/configs/
# (controls only), all in fp32 so they compare with the CPU runs. Each run gets two CPU
# cores (taskset) and a deadline; whatever finished comes back as one archive.
#
#   OUT=/tmp/out bash scripts/device_gates.sh          # on the GPU machine
#   QUICK=1 DEVICE=cpu OUT=/tmp/out bash scripts/device_gates.sh   # the script's logic, on toy sizes
#
# Packages the machine lacks travel as wheels in .whl/ (installed with --no-deps).
set -u
OUT=${OUT:?set OUT}
DEVICE=${DEVICE:-cuda}
PRESET=default; DEADLINE=${DEADLINE:-450}
[ -n "${QUICK:-}" ] && { PRESET=smoke; DEADLINE=120; }
if [ -z "${NO_WHEELS:-}" ] && compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 LORARECYCLE_CACHE=/tmp/lr-cache
RUNS=/tmp/lr-runs; rm -rf "$RUNS"; mkdir -p "$RUNS"
LR=(python3 -m lorarecycle.cli.main run --device "$DEVICE")

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  lscpu | grep -E "Model name|^CPU\(s\)"
  python3 -c "import sys, torch, transformers, peft, pydantic; print(sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'pydantic', pydantic.VERSION)"
} > "$OUT/machine.txt" 2>&1

# 1. CUDA paths on toy sizes in fp32; stop here if they break (nothing else would work)
start=$SECONDS
timeout 150 "${LR[@]}" --preset smoke --precision fp32 --out "$RUNS/smoke-fp32" > "$OUT/smoke-fp32.log" 2>&1 \
  || { echo "smoke (fp32) failed"; tail -40 "$OUT/smoke-fp32.log"; exit 1; }
echo "smoke fp32: $((SECONDS - start)) s"
# the device's call limit is 600 s: whatever the smoke took comes off the runs' deadline
[ -z "${QUICK:-}" ] && DEADLINE=$(( DEADLINE < 540 - SECONDS ? DEADLINE : 540 - SECONDS ))
# precision auto (bf16 where measured faster) beside the main runs, not gating them
(taskset -c 0-1 timeout 200 "${LR[@]}" --preset smoke --precision auto --out "$RUNS/smoke-auto" > "$OUT/smoke-auto.log" 2>&1;
 echo "smoke-auto exit $?" >> "$OUT/exits.txt") &

# 2. default on three seeds, and the Gate probes, side by side (two cores each)
jobs=()
for seed in 0 1 2; do jobs+=("default-seed$seed|--preset $PRESET --seed $seed"); done
for cfg in docs/results/gate-probes/configs/*.yaml; do jobs+=("probe-$(basename "$cfg" .yaml)|$cfg"); done
core=0
for job in "${jobs[@]}"; do
  name=${job%%|*}; args=${job#*|}
  # shellcheck disable=SC2086  # args is a word list on purpose
  (taskset -c "$core-$((core + 1))" timeout "$DEADLINE" "${LR[@]}" \
     --precision fp32 $args --out "$RUNS/$name" > "$RUNS/$name.log" 2>&1; echo "$name exit $?" >> "$OUT/exits.txt") &
  core=$(( (core + 2) % $(nproc) ))
done
wait
echo "all runs: $((SECONDS - start)) s"
cat "$OUT/exits.txt"
# small files first (they must come back), then everything
tar czf "$OUT/results.tgz" -C "$RUNS" --exclude='*.safetensors' --exclude='*.html' --exclude='*.png' .
tar czf "$OUT/full.tgz" -C "$RUNS" --exclude='*.safetensors' .
ls -la "$OUT"
