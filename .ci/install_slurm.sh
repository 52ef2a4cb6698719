#!/usr/bin/env bash
# Installs what tests/test_jobs_slurm.py needs to start a real single-node Slurm cluster:
# the Debian packages slurmctld, slurmd, slurm-client and munge (about 10 s).  Idempotent: does
# nothing when they are installed.  Starts no daemon (the test fixture does, in a temp dir).
# Needs root (or sudo) and the Debian package registry; on another system it says so and exits 0,
# and the Slurm tests are skipped with that reason.
set -euo pipefail
packages="slurmctld slurmd slurm-client munge"

missing=""
for p in ${packages}; do dpkg -s "${p}" >/dev/null 2>&1 || missing="${missing} ${p}"; done
if [ -z "${missing}" ]; then
  echo "install_slurm.sh: ${packages} already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_slurm.sh: no apt-get here; install${missing} yourself (the Slurm tests are skipped without them)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=sudo
  else
    echo "install_slurm.sh: not root and no sudo; install${missing} yourself (the Slurm tests are skipped without them)" >&2
    exit 0
  fi
fi
echo "install_slurm.sh: installing${missing}"
${sudo} apt-get update -qq
# policy-rc.d in containers stops the packages from starting their daemons; without systemd they
# would not start anyway.  The tests start their own.
DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends ${missing} >/dev/null
echo "install_slurm.sh: done"
