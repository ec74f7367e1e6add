"""The gathering losses under two gloo ranks equal the single-process loss on the full batch,
values and gradients (SimCLR's negatives cross ranks with their gradients; MoCo v3's keys and
MoCo v2's queue without)."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from nasiam.frameworks.losses import info_nce_batch, nt_xent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, z1, z2, out_path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        n = z1.shape[0] // world
        a = z1[rank * n:(rank + 1) * n].clone().requires_grad_(True)
        b = z2[rank * n:(rank + 1) * n].clone().requires_grad_(True)
        simclr = nt_xent(a, b, 0.3)
        # the full-batch loss is the mean of the ranks' losses; the gather's backward sums every
        # rank's gradient on a rank's embeddings back to that rank
        (simclr / world).backward()
        grads = [torch.zeros_like(a) for _ in range(world)]
        dist.all_gather(grads, a.grad)
        moco = info_nce_batch(z1[rank * n:(rank + 1) * n], z2[rank * n:(rank + 1) * n], 0.2)
        losses = torch.stack([simclr.detach(), moco])
        dist.all_reduce(losses)
        if rank == 0:
            torch.save((losses / world, torch.cat(grads)), out_path)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_rank_losses_and_gradients_equal_the_full_batch(tmp_path):
    torch.manual_seed(0)
    z1, z2 = torch.randn(8, 5), torch.randn(8, 5)
    out = tmp_path / "rank0.pt"
    mp.start_processes(_worker, args=(2, _free_port(), z1, z2, str(out)), nprocs=2, join=True, start_method="spawn")
    (simclr, moco), grads = torch.load(out, weights_only=True)

    a = z1.clone().requires_grad_(True)
    full = nt_xent(a, z2, 0.3)
    full.backward()
    torch.testing.assert_close(simclr, full.detach())
    torch.testing.assert_close(moco, info_nce_batch(z1, z2, 0.2))
    torch.testing.assert_close(grads, a.grad)  # negatives from the other rank passed their gradients back
