"""Print a line, then sleep SLEEPER_SECONDS (60 by default) like a long training."""

import os
import time

seconds = float(os.environ.get("SLEEPER_SECONDS", "60"))
print(f"sleeper started, sleeping {seconds:g} s", flush=True)
time.sleep(seconds)
print("sleeper done", flush=True)
