#!/usr/bin/env bash
# One prepared run on a lent GPU machine: the gate0-* lever probes of
# docs/results/gate-probes/configs (seeds 0, 1, 2, fp32, base numbers only), a full `default`
# run on the GPU beside them (fp32, timed), and the CPU-pinned tests there. One core per
# run (taskset), all sharing the GPU; each run has a deadline, and whatever landed comes back.
#
#   OUT=/tmp/out bash scripts/device_gate0.sh                       # on the GPU machine
#   QUICK=1 DEVICE=cpu OUT=/tmp/out bash scripts/device_gate0.sh    # the script's logic on toy sizes
#
# Packages the machine lacks travel as wheels in .whl/ (installed with --no-deps).
set -u
OUT=${OUT:?set OUT}
DEVICE=${DEVICE:-cuda}
DEADLINE=${DEADLINE:-500}
if [ -z "${NO_WHEELS:-}" ] && compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site
fi
RUNS=/tmp/lr-runs; rm -rf "$RUNS"; mkdir -p "$RUNS"
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 LORARECYCLE_CACHE=$RUNS/cache
LR=(python3 -m lorarecycle.cli.main run --device "$DEVICE" --precision fp32)
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  lscpu | grep -E "Model name|^CPU\(s\)"
  python3 -c "import sys, torch, transformers, peft, pydantic; print(sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'pydantic', pydantic.VERSION)"
} > "$OUT/machine.txt" 2>&1

jobs=("default-seed0|--preset default --seed 0")
for cfg in baseline heads-8 layers-6 model-m warmup-800; do
  for seed in 0 1 2; do jobs+=("gate0-$cfg-seed$seed|docs/results/gate-probes/configs/gate0-$cfg.yaml --seed $seed"); done
done
if [ -n "${QUICK:-}" ]; then
  DEADLINE=200
  printf 'preset: smoke\nlibraries: {solo: [hop1]}\nmethods: []\nreferences: []\n' > "$RUNS/quick.yaml"
  jobs=("default-seed0|--preset smoke --seed 0" "gate0-baseline-seed1|$RUNS/quick.yaml --seed 1")
fi
start=$SECONDS
cores=$(nproc); core=0
for job in "${jobs[@]}"; do
  name=${job%%|*}; args=${job#*|}
  # shellcheck disable=SC2086  # args is a word list on purpose
  (t0=$SECONDS; taskset -c "$core" timeout "$DEADLINE" "${LR[@]}" $args --out "$RUNS/$name" > "$RUNS/$name.log" 2>&1
   echo "$name exit $? after $((SECONDS - t0)) s" >> "$OUT/exits.txt") &
  core=$(( (core + 1) % cores ))
done
# the tests that feed the model CPU inputs (pinned to the CPU since the last GPU check)
(timeout 200 python3 -m pytest -q -p no:cacheprovider -m "not slow" tests/test_precision.py tests/test_routing.py \
   > "$OUT/pytest.log" 2>&1; echo "pytest exit $?" >> "$OUT/exits.txt") &
wait
echo "all: $((SECONDS - start)) s"; cat "$OUT/exits.txt"
python3 docs/results/gate-probes/gate0_levers.py "$RUNS" | tee "$OUT/gate0_levers.md"
tar czf "$OUT/results.tgz" -C "$RUNS" --exclude='*.safetensors' --exclude='*.html' --exclude='*.png' --exclude='samples*.jsonl' .
(cd "$RUNS" && find . -name 'samples*.jsonl' | tar czf "$OUT/samples.tgz" -T -)
ls -la "$OUT"
