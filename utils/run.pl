#!/bin/sh
# run.pl [--mem 4G] [--gpu 1] [--num-nodes M] [--num-threads N] [--time T] [--max-jobs-run N] [--config F] \
#        [JOB=1:N] <log-file> <command> [args...]
# Runs the command (once per JOB index) on this machine, each task's output in its own log file.
#
# The name and the interface are Kaldi's utils/run.pl, so that cmd.sh habits carry over
# ($train_cmd JOB=1:$nj exp/x/log/job.JOB.log command ...); the work is done by the
# accent.jobs package (local backend), run by the toolkit's python (utils/accent_python.sh).
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.jobs local "$@"
