#!/usr/bin/env bash
# Every GPU check of the harness in one run: about 5-8 minutes on one H100/H200 with a
# CUDA-enabled PyTorch (python3, or $PRUNING_HARNESS_PYTHON). Run from anywhere:
#
#   bash scripts/gpu-check.sh [report-dir]        (default: reports)
#
# 1. nvidia-smi and `bun run doctor`: what the machine has.
# 2. check:gpu-parity: the torch engine on CUDA against the CPU at fp32/tf32/bf16, eager
#    and with CUDA graphs (gpu-parity.md).
# 3. The torch engine's test suite on CUDA (PRUNING_HARNESS_TEST_TORCH_DEVICE=cuda), and
#    packed training there: grouped packs against the same models trained alone.
# 4. bench:train, paper preset with scripts/gpu-check/bench-train.json: rows eager/graphs
#    x precision x channels_last, raw PyTorch beside them, a grid of 1/2/4 runs per GPU,
#    grouped packs of 1/4/16 Figure 2 paper-protocol units (w16, batch 64)
#    (train-throughput-gpu.md; the dry-run planner and runner.pack=auto read its .json).
# 5. The ONNX Runtime CUDA EP, when `bun run setup:cuda-ep` installed its libraries:
#    bench:sparse-inference --provider cuda (smoke preset).
#
# Each step has a time limit; a failed step is reported and the rest still run. The exit
# status is 0 only when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
REPORTS=${1:-reports}
mkdir -p "$REPORTS"
BUN=${BUN:-bun}
status=0

step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (at most ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "!! $name: exit $rc$([ $rc -eq 124 ] && echo ' (timed out)')"
    status=1
  fi
  echo "== $name: $((SECONDS - t0)) s"
}

if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_mode --format=csv | tee "$REPORTS/gpu-check-nvidia-smi.txt"
else
  echo "!! nvidia-smi not found: this script checks a GPU machine"
  exit 2
fi
step "doctor" 120 "$BUN" run doctor
step "gpu parity (check:gpu-parity)" 180 "$BUN" bench/gpu-parity.ts --report-dir "$REPORTS"
step "torch engine tests on CUDA" 150 env PRUNING_HARNESS_TEST_TORCH_DEVICE=cuda "$BUN" test test/engine/torch-engine.test.ts
step "packed training on CUDA (grouped packs vs unpacked)" 120 env PRUNING_HARNESS_TEST_TORCH_DEVICE=cuda "$BUN" test test/train/pack-loop.test.ts -t "torch engine"
step "bench:train" 330 "$BUN" bench/train-throughput.ts --preset paper --config scripts/gpu-check/bench-train.json --no-accuracy \
  --report-name train-throughput-gpu --report-dir "$REPORTS"
if "$BUN" -e 'import { detectProviders } from "./src/engine/onnx/providers.ts"; process.exit(detectProviders().find((p) => p.name === "cuda")?.available ? 0 : 1)'; then
  step "sparse inference on the ORT CUDA EP" 150 "$BUN" bench/sparse-inference.ts --preset smoke --provider cuda --report-dir "$REPORTS"
else
  echo "== ORT CUDA EP: provider libraries not installed (bun run setup:cuda-ep; 230 MB from the npm registry): skipped"
fi
exit $status
