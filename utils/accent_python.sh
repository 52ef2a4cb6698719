# Sourced by the utils/ wrappers: $accent_python, the Python interpreter of this toolkit, found
# from the wrapper's own location so the tools work whatever PATH the caller has (a Kaldi recipe's
# path.sh does not put our venv on it):
#   1. $ACCENT_PYTHON, if set;
#   2. <toolkit>/venv/bin/python (what `make` creates);
#   3. python3 or python on PATH.
# The toolkit's directory goes first on PYTHONPATH, so these tools run this tree's `accent`.
# (shell built-ins only: the caller's PATH may lack even coreutils; cd -P resolves the links of a
# recipe's utils -> ../../utils)
_ap_root=$(cd -P "${0%/*}/.." && pwd)
if [ -n "${ACCENT_PYTHON:-}" ]; then
  accent_python=$ACCENT_PYTHON
elif [ -x "$_ap_root/venv/bin/python" ]; then
  accent_python=$_ap_root/venv/bin/python
else
  accent_python=$(command -v python3 || command -v python || true)
fi
if [ -z "$accent_python" ] || ! [ -x "$accent_python" ]; then
  echo "${0##*/}: no Python for the accent toolkit: run 'make' in $_ap_root (creates venv/)," \
       "or set ACCENT_PYTHON=/path/to/python (one where 'import accent' works)" >&2
  exit 127
fi
export ACCENT_PYTHON=$accent_python  # jobs and nested tools use the same one
export PYTHONPATH="$_ap_root${PYTHONPATH:+:$PYTHONPATH}"
unset _ap_root
