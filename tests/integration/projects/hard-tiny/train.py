"""Read the data file, report one metric, print HARD_SHOW's variable if set."""

import json
import os

rows = open("data.csv", encoding="utf-8").read().splitlines()
shown = os.environ.get("HARD_SHOW")
if shown:
    print(f"{shown}={os.environ.get(shown)!r}", flush=True)
    print(f"pwned-file-exists={os.path.exists('/tmp/pwned')}", flush=True)
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    json.dump({"rows": len(rows)}, fh)
print(f"hard-tiny read {len(rows)} rows", flush=True)
