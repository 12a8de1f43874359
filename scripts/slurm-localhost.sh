#!/usr/bin/env bash
# Starts a one-node Slurm cluster on localhost (Debian's slurm-wlm and munge), for the
# runner's Slurm test and for trying --executor slurm on one machine.
#   sudo scripts/slurm-localhost.sh start   # installs nothing; needs slurm-wlm and munge
#   sudo scripts/slurm-localhost.sh stop
# State, spool, pid and log files live under $SLURM_LOCAL_DIR (default /tmp/slurm-localhost).
set -euo pipefail
cmd=${1:-start}
dir=${SLURM_LOCAL_DIR:-/tmp/slurm-localhost}
host=$(hostname -s)

stop() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  pkill -x munged 2>/dev/null || true
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "slurm-localhost: must run as root (munge and slurmd need it)" >&2; exit 2; fi
for b in munged slurmctld slurmd sbatch squeue; do
  command -v "$b" >/dev/null || { echo "slurm-localhost: $b not found; apt install slurm-wlm munge" >&2; exit 2; }
done
stop
mkdir -p "$dir"/{state,spool,log,run} /etc/munge /var/log/munge /var/lib/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; fi
chown -R munge:munge /etc/munge /var/log/munge /var/lib/munge /run/munge
chmod 400 /etc/munge/munge.key
su -s /bin/sh munge -c munged

cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
conf=/etc/slurm/slurm.conf
mkdir -p /etc/slurm
cat > "$conf" <<CONF
ClusterName=localhost
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=local Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld
slurmd
for _ in $(seq 1 30); do
  if sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then echo "slurm-localhost: up ($host, $cpus CPUs)"; exit 0; fi
  sleep 1
done
echo "slurm-localhost: the node did not come up; see $dir/log" >&2
exit 1
