#!/bin/bash
# Probe 22 (#33): --num_nodes and the SLURM variables through the CLI (refusals come before any training)
cd "$PROBE_DIR" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1 --accelerator cpu --out_dir sl"
run() { echo "== $1"; shift; timeout 60 env -u SLURM_JOB_ID "$@" > o.txt 2>&1; rc=$?; grep -iv warn o.txt | grep -v "^\s*$" | tail -2 | cut -c1-500; echo "rc $rc"; }
run "interactive allocation, --num_nodes 2" env SLURM_JOB_ID=5 SLURM_NTASKS=2 SLURM_NTASKS_PER_NODE=1 SLURM_NNODES=2 SLURM_JOB_NAME=interactive $N pretrain $T --num_nodes 2
run "bash job name, --num_nodes 2" env SLURM_JOB_ID=5 SLURM_NTASKS=2 SLURM_NTASKS_PER_NODE=1 SLURM_JOB_NAME=bash $N pretrain $T --num_nodes 2
run "SLURM_JOB_ID only, --num_nodes 2" env SLURM_JOB_ID=5 $N pretrain $T --num_nodes 2
run "interactive + MASTER_ADDR/NODE_RANK (torchrun-style), --num_nodes 2 (expect accepted then waiting: 60 s timeout)" env SLURM_JOB_NAME=interactive SLURM_NTASKS=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 NODE_RANK=0 $N pretrain $T --num_nodes 2 --run_name tr
run "SLURM_NTASKS=2(x2)" env SLURM_NTASKS='2(x2)' SLURM_JOB_NAME=train $N pretrain $T
run "SLURM_NTASKS=superscript two" env SLURM_NTASKS=$'\u00b2' SLURM_JOB_NAME=train $N pretrain $T
run "SLURM_LOCALID=superscript two, one srun task" env SLURM_NTASKS=1 SLURM_PROCID=0 SLURM_LOCALID=$'\u00b2' SLURM_NODEID=0 SLURM_JOB_NAME=train $N pretrain $T
run "real one-task srun step (all integers), --devices 1" env SLURM_JOB_ID=5 SLURM_NTASKS=1 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NODEID=0 SLURM_NNODES=1 SLURM_TASKS_PER_NODE=1 SLURM_JOB_CPUS_PER_NODE='16(x1)' SLURM_JOB_NAME=train $N pretrain $T --run_name one
ls sl 2>&1
