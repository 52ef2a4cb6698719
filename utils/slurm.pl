#!/bin/sh
# slurm.pl [--mem 4G] [--gpu 1] [--num-nodes M] [--num-threads N] [--time T] [--max-jobs-run N] [--config conf/slurm.conf] \
#          [JOB=1:N] <log-file> <command> [args...]
# Runs the command (once per JOB index) through Slurm: one sbatch array job, each task's output in
# its own log file; waits for all tasks, fails if any failed, scancels the job on Ctrl-C.
#
# Kaldi's utils/slurm.pl interface and config format: --config maps the options to sbatch options
# (see egs/aesrc/conf/slurm.conf); batch scripts and Slurm's own output go to <log-dir>/q/.
# The work is done by the accent.jobs package (slurm backend), run by the toolkit's python (utils/accent_python.sh).
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.jobs slurm "$@"
