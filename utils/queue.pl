#!/bin/sh
# queue.pl [--mem 4G] [--gpu 1] [--num-nodes M] [--num-threads N] [--time T] [--max-jobs-run N | -tc N] [--config conf/queue.conf] \
#          [JOB=1:N] <log-file> <command> [args...]
# Runs the command (once per JOB index) through GridEngine (SGE/OGE/UGE): one qsub -t array job,
# each task's output in its own log file; waits for all tasks, fails if any failed, qdels the job on Ctrl-C.
#
# Kaldi's utils/queue.pl interface and config format: --config maps the options to qsub options
# (see egs/aesrc/conf/queue.conf); batch scripts and the queue's own output go to <log-dir>/q/.
# The work is done by the accent.jobs package (sge backend), run by the toolkit's python (utils/accent_python.sh).
. "${0%/*}/accent_python.sh"
exec "$accent_python" -m accent.jobs sge "$@"
