# shellcheck shell=bash
# Make sure `python3` can run reprobox from this checkout (sourced, not run).
#
# A Python that refuses pip installs (PEP 668: Debian's own python3) gets a
# virtual environment instead, first on PATH. reprobox is installed, editable,
# unless Python already imports it from this checkout. The import is tried from
# outside the checkout: from inside, the reprobox/ folder itself would import.

use_reprobox_python() {
	local extras=${1:-} repo venv managed
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	venv=${REPROBOX_VENV:-/var/tmp/reprobox-venv}
	managed=$(python3 -c '
import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
print("yes" if os.path.exists(marker) and sys.prefix == sys.base_prefix else "no")')
	if [[ $managed == yes ]]; then
		echo "${0##*/}: this python3 is externally managed; using a venv in $venv" >&2
		[[ -x $venv/bin/python3 ]] || python3 -m venv "$venv"
		export PATH=$venv/bin:$PATH
	fi
	if ! (cd / && REPO="$repo" EXTRAS="$extras" python3 - <<'PY') 2>/dev/null; then
import importlib, os, sys
import reprobox.cli  # noqa: F401  (imports typer, docker, jinja2 too)
for name in filter(None, os.environ["EXTRAS"].split(",")):
    importlib.import_module({"test": "pytest"}.get(name, name))
here = os.path.realpath(os.path.join(os.environ["REPO"], "reprobox"))
sys.exit(os.path.dirname(os.path.realpath(reprobox.cli.__file__)) != here)
PY
		echo "${0##*/}: installing reprobox from $repo${extras:+ with [$extras]}" >&2
		python3 -m pip install -q -e "$repo${extras:+[$extras]}"
	fi
}
