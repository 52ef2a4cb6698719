# parse_options.sh: command-line options for recipe scripts, the Kaldi way.
#
# Written from scratch after Kaldi's utils/parse_options.sh (Apache 2.0; Daniel Povey, Arnab
# Ghoshal, Karel Vesely), with the same behaviour so that Kaldi habits carry over:
#
#   stage=0          # defaults first: every option is a variable that already exists
#   nj=4
#   use_gpu=false
#   . utils/parse_options.sh || exit 1   # source it (no arguments), then use "$@"
#
#   --stop-stage 4   sets stop_stage=4 (dashes become underscores); the variable must already be
#                    defined, else "invalid option --stop-stage" and exit 1
#   --use-gpu true   a variable whose default is true/false only takes true or false
#   --config FILE    sources FILE (lines of var=value) before the command-line options, whatever
#                    its position, so options given on the command line win; several are read in order
#   --help, -h       prints $help_message (if set) and exits 0
#   --               ends the options
# Parsing stops at the first argument that is not an option; it and the rest stay in "$@".
# Differences from Kaldi: --config needs no `config` variable; an option without a value is an
# error (Kaldi looped forever); values are assigned verbatim (no eval of quotes or $).
# Works under `set -euo pipefail`; its own variables start with _po_ and are unset at the end.

# Read the --config files first (lower priority than the options given on the command line).
_po_i=1
while [ "$_po_i" -le "$#" ]; do
  _po_arg=${!_po_i}
  case "$_po_arg" in
    --config)
      _po_next=$((_po_i + 1))
      if [ "$_po_next" -gt "$#" ]; then
        echo "$0: option --config needs a value" >&2
        exit 1
      fi
      _po_file=${!_po_next}
      if [ ! -f "$_po_file" ] || [ ! -r "$_po_file" ]; then
        echo "$0: missing config '$_po_file'" >&2
        exit 1
      fi
      # shellcheck disable=SC1090
      . "$_po_file" || { echo "$0: error in config '$_po_file'" >&2; exit 1; }
      _po_i=$((_po_i + 2))
      ;;
    --) break ;;
    --*) _po_i=$((_po_i + 2)) ;;
    -h) _po_i=$((_po_i + 1)) ;;
    *) break ;;
  esac
done

while [ "$#" -gt 0 ]; do
  case "$1" in
    --help|-h)
      if [ -n "${help_message:-}" ]; then
        printf '%b\n' "$help_message" >&2
      else
        echo "No help found." >&2
      fi
      exit 0
      ;;
    --)
      shift
      break
      ;;
    --*=*)
      echo "$0: options to scripts must be of the form --name value, got '$1'" >&2
      exit 1
      ;;
    --*)
      _po_name=${1#--}
      _po_name=${_po_name//-/_}
      if [ "$#" -lt 2 ]; then
        echo "$0: option $1 needs a value" >&2
        exit 1
      fi
      if [ "$_po_name" = config ]; then
        # Already sourced above; set $config too if the script has one.
        if [ -n "${config+x}" ]; then config=$2; fi
        shift 2
        continue
      fi
      case "$_po_name" in
        [A-Za-z_]*) ;;
        *) echo "$0: invalid option $1" >&2; exit 1 ;;
      esac
      case "$_po_name" in
        *[!A-Za-z0-9_]*) echo "$0: invalid option $1" >&2; exit 1 ;;
      esac
      if [ -z "${!_po_name+x}" ]; then
        echo "$0: invalid option $1" >&2
        exit 1
      fi
      _po_old=${!_po_name}
      if [ "$_po_old" = true ] || [ "$_po_old" = false ]; then
        if [ "$2" != true ] && [ "$2" != false ]; then
          echo "$0: expected \"true\" or \"false\": $1 $2" >&2
          exit 1
        fi
      fi
      printf -v "$_po_name" '%s' "$2"
      shift 2
      ;;
    *)
      break
      ;;
  esac
done

# An empty --cmd is nearly always a scripting error (an unset $train_cmd); say so now.
if [ -n "${cmd+x}" ] && [ -z "$cmd" ]; then
  echo "$0: empty argument to --cmd option" >&2
  exit 1
fi

unset _po_i _po_arg _po_next _po_file _po_name _po_old
true
