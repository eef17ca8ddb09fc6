"""Data-parallel training under torchrun: one process per GPU (or CPU process), DDP over the
trained parameters. A plain `scorecut train` is the same code with a world of one.

`torchrun --nproc-per-node N -m scorecut.cli.main train ...` sets RANK, LOCAL_RANK and WORLD_SIZE;
each rank reads its own slice of every global batch, gradients are averaged by DDP, and rank 0
alone writes the run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """The rank that logs, validates and writes the run folder."""
        return self.rank == 0


def world_from_env() -> World:
    """This process's place in a torchrun launch; a world of one without torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), size)


def setup(world: World, device: str) -> str:
    """Join the process group (nccl on CUDA, gloo on CPU); returns this rank's device."""
    if world.size == 1:
        return device
    import torch.distributed as dist

    if device.startswith("cuda"):
        device = f"cuda:{world.local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return device


def wrap(model: torch.nn.Module, world: World, device: str) -> torch.nn.Module:
    """DDP over the model when the world has several ranks; the model itself otherwise."""
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    # Frozen base parameters are not registered for gradient reduction (requires_grad False).
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def mean_across(value: float, world: World, device: str) -> float:
    """The mean of a logged number over the ranks."""
    if world.size == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / world.size


def barrier(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()


def teardown(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


@torch.no_grad()
def check_in_sync(params: list[torch.Tensor], world: World, device: str) -> None:
    """RuntimeError when the ranks' trained weights differ (gradients were not averaged alike)."""
    if world.size == 1:
        return
    import torch.distributed as dist

    mine = torch.stack([p.detach().double().sum() for p in params]).to(device)  # (P,) one number per tensor
    every = [torch.empty_like(mine) for _ in range(world.size)]
    dist.all_gather(every, mine)
    if any(not torch.equal(every[0], other) for other in every[1:]):
        raise RuntimeError("the training processes' weights drifted apart: DDP did not keep them in step")
