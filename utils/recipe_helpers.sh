# Shell functions shared by the recipes (egs/*/run*.sh), sourced after utils/parse_options.sh.

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }
# A step is skipped when its marker holds the settings it was made with; other settings redo it.
is_done() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
# `if must_run MARKER SETTINGS; then <step>; echo "$settings" > MARKER; fi`: true unless the step is
# done; the marker is removed before the step runs, so a failed or killed step is always redone.
must_run() { is_done "$1" "$2" && return 1; rm -f "$1"; }
# The checksum of files' contents, for a marker's settings.
fingerprint() { cat "$@" | cksum; }
# The last "best dev ..." line of an experiment's training log.
best_dev() { grep -h 'best dev ' "$1/log/train.log" | tail -n 1 | sed 's/.*\] //'; }
