"""Recognition routing: which expert trains on a batch, and which expert answers a sample.

Neither decision sees a task id or a boundary. Per run the state is the active expert index,
a committed mask and each expert's precision (running mean μ and variance σ² of its own batch
surprise on the batches it trained on).

Training time (one batch, batch-mean surprise s̄_m under every expert m):
    recognises(m)  = calibrated(m) and s̄_m <= μ_m + z σ_m
    1. a committed expert recognises the batch      -> known old domain: nothing trains
    2. active >= capacity                            -> capacity exhausted: drop the batch
    3. active expert young (n_seen < commit_after) or recognising -> it trains
    4. otherwise the domain changed: commit the active expert, advance, train the fresh one
Test time: each sample goes to the trained expert (n_seen > 0) that reconstructs it best.
"""

from __future__ import annotations

import torch


def recognises(s_bar, mu, var, calibrated, z_novel) -> torch.Tensor:
    """[R, M] bool: the expert is calibrated and s̄ <= μ + z σ. z_novel: [R] or scalar."""
    z = z_novel.unsqueeze(-1) if torch.is_tensor(z_novel) else z_novel
    return calibrated & (s_bar <= mu + z * var.sqrt())


def training_route(
    s_bar: torch.Tensor,
    state: dict[str, torch.Tensor],
    z_novel: torch.Tensor,
    commit_after: int,
    route: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Decide, for every run, which expert trains on this batch. Updates `state` in place.

    s_bar: [R, H] batch surprise of experts 0..H-1 (H covers every committed and the active
    expert). state: active [R] int64, capacity [R] int64, committed/calibrated [R, M] bool,
    mu/var/n_seen [R, M]. route: [R] bool; runs with route=False always train expert 0.
    Returns target [R] int64, train [R] bool and per-run event flags {"known", "dropped",
    "switched"}.
    """
    hi = s_bar.shape[1]
    ar = torch.arange(s_bar.shape[0])
    active = state["active"]
    rec = recognises(s_bar, state["mu"][:, :hi], state["var"][:, :hi],
                     state["calibrated"][:, :hi], z_novel)
    known = (rec & state["committed"][:, :hi]).any(1) & route
    has_cap = active < state["capacity"]
    a = active.clamp(max=hi - 1)
    young = state["n_seen"][ar, a] < commit_after
    go = ~known & has_cap & route
    switch = go & ~(young | rec[ar, a])
    state["committed"][ar, a] |= switch
    active = active + switch.long()
    state["active"] = active
    train = torch.where(route, go & (active < state["capacity"]), torch.ones_like(go))
    target = torch.where(route, active.clamp(max=state["committed"].shape[1] - 1),
                         torch.zeros_like(active))
    events = {"known": known, "dropped": ~known & ~has_cap & route, "switched": switch}
    return target, train, events


def test_route(surprise: torch.Tensor, n_seen: torch.Tensor) -> torch.Tensor:
    """Per-sample expert choice: argmin surprise over trained experts (all if none trained).

    surprise: [R, M, n]; n_seen: [R, M]. Returns [R, n] int64.
    """
    trained = n_seen > 0
    trained = trained | ~trained.any(1, keepdim=True)
    masked = surprise.masked_fill(~trained.unsqueeze(-1), float("inf"))
    return masked.argmin(1)
