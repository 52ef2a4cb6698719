# How the recipe's jobs are run: one switch, as in Kaldi/ESPnet.
#   cmd_backend=local  jobs run on this machine (utils/run.pl), --gpu and --mem are ignored
#   cmd_backend=slurm  jobs are submitted with sbatch (utils/slurm.pl, options mapped by conf/slurm.conf)
#   cmd_backend=sge    jobs are submitted with qsub (utils/queue.pl, options mapped by conf/queue.conf)
# Every job is called as: $train_cmd [--mem 4G] [--gpu 1] JOB=1:$nj exp/x/log/job.JOB.log command args...
cmd_backend=${cmd_backend:-local}

case "${cmd_backend}" in
  local)
    export train_cmd="run.pl"
    export cuda_cmd="run.pl"
    ;;
  slurm)
    export train_cmd="slurm.pl --config conf/slurm.conf"
    export cuda_cmd="slurm.pl --config conf/slurm.conf"
    ;;
  sge)
    export train_cmd="queue.pl --config conf/queue.conf"
    export cuda_cmd="queue.pl --config conf/queue.conf"
    ;;
  *)
    echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local, slurm or sge)" >&2
    return 1 2>/dev/null || exit 1
    ;;
esac
