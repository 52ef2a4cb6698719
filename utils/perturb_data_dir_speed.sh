#!/usr/bin/env bash
# Speed perturbation (Kaldi's utils/data/perturb_data_dir_speed_3way.sh): <dst> holds <src> at
# speeds 0.9, 1.0 and 1.1 (sox pipes in wav.scp; IDs of the copies prefixed sp0.9-, sp1.1-).
# Usage: utils/perturb_data_dir_speed.sh [--factors "0.9 1.0 1.1"] <src-data-dir> <dst-data-dir>
set -euo pipefail
factors="0.9 1.0 1.1"
. utils/parse_options.sh
if [ $# -ne 2 ]; then
  echo "Usage: $0 [--factors \"0.9 1.0 1.1\"] <src-data-dir> <dst-data-dir>" >&2
  exit 1
fi
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.bin.data_dir perturb-speed --factors "${factors}" "$1" "$2"
