"""Make the synthetic record builders importable as `reprobox_synthetic`."""

import importlib.util
import sys
from pathlib import Path

if "reprobox_synthetic" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "reprobox_synthetic", Path(__file__).with_name("synthetic.py")
    )
    sys.modules["reprobox_synthetic"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["reprobox_synthetic"])
