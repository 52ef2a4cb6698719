# Sourced by every recipe: puts the toolkit's venv and utils/ on PATH.
# Resolve symlinks so that egs/<corpus>/path.sh -> ../../path.sh finds the top level.
ACCENT_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
export ACCENT_ROOT
if [ -d "$ACCENT_ROOT/venv/bin" ]; then
  export PATH="$ACCENT_ROOT/venv/bin:$PATH"
fi
export PATH="$ACCENT_ROOT/utils:$PATH"
export LC_ALL=C            # Kaldi data dirs are sorted in C order
export PYTHONUNBUFFERED=1  # job logs show progress as it happens
