"""Print some progress, then fail the way a broken training script does."""

import sys

for step in range(1, 4):
    print(f"failing step {step}", flush=True)
print("failing: loss became NaN, giving up", flush=True)
sys.exit(3)
