#!/usr/bin/env bash
# The GPU checks in one call of a GPU machine (docs/performance.md, "GPU"): bench_train's
# GPU sections, then the CUDA-path tests. Where that machine lacks the project's pure-Python
# counting stack (fvcore, iopath, yacs, termcolor), prepare it on a machine that has it:
#     bash benchmarks/gpu_check.sh prepare    # copies them into .devsite/site (git-ignored)
# and send .devsite along; there, run   bash benchmarks/gpu_check.sh   (writes to $OUT or ./out).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = prepare ]; then
    site=$(python -c "import fvcore, os; print(os.path.dirname(os.path.dirname(fvcore.__file__)))")
    mkdir -p .devsite/site && grep -qx "/.devsite/" .git/info/exclude 2>/dev/null ||
        echo "/.devsite/" >> .git/info/exclude
    for p in fvcore iopath yacs termcolor; do cp -r "$site/$p" .devsite/site/; done
    exit 0
fi
out=${OUT:-out}; mkdir -p "$out"
export PYTHONPATH=$PWD:$PWD/.devsite/site PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', \
torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"
    echo "=== bench_train.py --sections bcd"
    time timeout 420 python3 benchmarks/bench_train.py --sections bcd
    echo "=== CUDA-path tests"
    time timeout 120 python3 -m pytest -q -p no:cacheprovider -o addopts="-ra -n 8" \
        tests/test_latency.py tests/test_train.py tests/test_hardware.py tests/test_data.py
} 2>&1 | tee "$out/gpu_check.txt"
