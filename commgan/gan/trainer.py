"""The one alternating D/G training loop for every GAN in the project.

The survey's eq. (2), ``min_G max_D E[log D(i|c)] + E[log(1 - D(G(n|c)|c))]``, is optimised by
alternating gradient steps: ``n_critic`` steps on L_D with the generator frozen, then one step on
L_G with the discriminator frozen. What the two sides *are* is left to a `GANProblem`
(`commgan.gan.problem`). `GANTrainer.fit` returns a per-iteration history (a DataFrame) from
which `commgan.gan.history` computes convergence points.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from commgan.errors import TrainingDiverged
from commgan.gan.batches import DataExhausted, batch_source, resolve_device, to_device
from commgan.gan.precision import PRECISIONS, autocast, resolve_precision
from commgan.gan.problem import GANProblem, Metrics
from commgan.rng import scoped_rng, seed_weights, set_torch_rng_state, torch_rng_state

__all__ = ["LR_SCHEDULES", "GANDivergenceError", "GANTrainer", "TrainerConfig", "frozen"]

logger = logging.getLogger(__name__)


def _constant_rate(progress: float, final_ratio: float) -> float:
    return 1.0


def _cosine_rate(progress: float, final_ratio: float) -> float:
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return final_ratio + (1 - final_ratio) * cosine


LR_SCHEDULES: dict[str, Callable[[float, float], float]] = {
    "none": _constant_rate,
    "cosine": _cosine_rate,
}
"""Learning-rate schedules: ``factor(progress in [0, 1], final_ratio)`` multiplies the base rate."""


@dataclass
class TrainerConfig:
    """Hyper-parameters of `GANTrainer` (saved as JSON next to results)."""

    iterations: int = 1000
    """Number of iterations; one iteration = n_critic D updates then one G update."""
    n_critic: int = 1
    """Discriminator (critic) updates per generator update (5 for WGAN-GP)."""
    warmup: int = 0
    """First iterations (counted in `iterations`) that update only the generator, on the
    problem's ``warmup_loss`` (its non-adversarial terms); loss_d is NaN in their rows."""
    lr_g: float = 2e-4
    """Adam learning rate of the generator side."""
    lr_d: float = 2e-4
    """Adam learning rate of the discriminator side."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas of both sides (DCGAN default)."""
    grad_clip: float | None = None
    """Max gradient 2-norm per side and step, or None for no clipping."""
    precision: str = "fp32"
    """"fp32", "bf16" (autocast), "fp16" (autocast + GradScaler; CUDA only) or "auto" (bf16 where
    the device runs it natively, else fp32): see `commgan.gan.precision`."""
    device: str = "auto"
    """Torch device; "auto" = "cuda" if available, else "cpu"."""
    seed: int | None = 0
    """Seed of the trainer's own torch stream: fit() draws from torch's default generators
    seeded with it on the first fit and continued by the next, and leaves the global state as it
    found it; None draws from the global stream as it is."""
    progress: bool = True
    """Show a tqdm bar (also off when stderr is not a TTY)."""
    log_every: int = 100
    """Log losses (and update the bar) every this many iterations; 0 disables."""
    checkpoint_every: int = 100
    """Keep an in-memory copy of all state every this many iterations (NaN-guard rollback)."""
    lr_decay: str = "none"
    """Learning-rate schedule of both sides over `iterations`: a key of `LR_SCHEDULES`."""
    lr_final_ratio: float = 0.01
    """With "cosine": the last iteration's learning rate as a fraction of the first."""
    name: str | None = None
    """Run name used in messages, e.g. "dcgan seed 3"."""

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {self.n_critic}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if self.log_every < 0:
            raise ValueError(f"log_every must be >= 0, got {self.log_every}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                             f"got {self.precision!r}")
        if self.lr_decay not in LR_SCHEDULES:
            raise ValueError(f"lr_decay must be one of {', '.join(map(repr, LR_SCHEDULES))}, "
                             f"got {self.lr_decay!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))


class GANDivergenceError(TrainingDiverged):
    """A loss (or a parameter) became NaN/inf; the trainer rolled back to its last checkpoint.

    Attributes: iteration (1-based, where it happened), loss ("loss_d", "loss_g" or
    "parameters"), history (DataFrame of the completed iterations before it),
    checkpoint_iteration (the iteration whose state was restored; 0 = initial state).
    """

    def __init__(self, message: str, iteration: int, loss: str, history: pd.DataFrame,
                 checkpoint_iteration: int) -> None:
        super().__init__(message)
        self.iteration = iteration
        self.loss = loss
        self.history = history
        self.checkpoint_iteration = checkpoint_iteration


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Context in which all of `module`'s parameters have requires_grad=False (then restored)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _clone_to_cpu(obj: Any) -> Any:
    """Deep copy of nested dicts/lists/tuples, tensors copied to CPU."""
    if isinstance(obj, Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, Mapping):
        return {k: _clone_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone_to_cpu(v) for v in obj)
    return copy.deepcopy(obj)

def _trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


class GANTrainer:
    """Alternating D/G optimisation of a `GANProblem`.

    problem: the game (see `GANProblem`); its modules are moved to ``config.device``.
    config: `TrainerConfig` (defaults if None).
    opt_g, opt_d: custom optimizers over the generator / discriminator parameters; by default
    Adam(lr_g | lr_d, betas) over each side's trainable parameters.
    on_checkpoint: called with each in-memory checkpoint (see `state_dict`), e.g. to save it.

    >>> from commgan.gan.blocks import mlp
    >>> from commgan.gan.problem import AdversarialGAN
    >>> problem = AdversarialGAN(mlp(2, [8], 2), mlp(2, [8], 1), noise_shape=(2,),
    ...                          sampler=lambda: torch.randn(16, 2) + 3.0)
    >>> history = GANTrainer(problem, TrainerConfig(iterations=5, progress=False)).fit()
    >>> list(history.columns[:3]), len(history)
    (['iteration', 'loss_d', 'loss_g'], 5)
    """

    def __init__(
        self,
        problem: GANProblem,
        config: TrainerConfig | None = None,
        *,
        opt_g: torch.optim.Optimizer | None = None,
        opt_d: torch.optim.Optimizer | None = None,
        on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.problem = problem
        self.config = config if config is not None else TrainerConfig()
        self.label = self.config.name or type(problem).__name__
        self.device = resolve_device(self.config.device)
        self.generator: nn.Module = problem.generator.to(self.device)
        self.discriminator: nn.Module = problem.discriminator.to(self.device)
        shared = {id(p) for p in self.generator.parameters()} & {
            id(p) for p in self.discriminator.parameters()}
        if shared:
            raise ValueError(f"{self.label}: generator and discriminator share {len(shared)} "
                             "parameter tensors; each parameter belongs to exactly one side")
        cfg = self.config
        self.opt_g = opt_g or self._adam(self.generator, cfg.lr_g, "generator")
        self.opt_d = opt_d or self._adam(self.discriminator, cfg.lr_d, "discriminator")
        self._base_lr_g = [group["lr"] for group in self.opt_g.param_groups]
        self._base_lr_d = [group["lr"] for group in self.opt_d.param_groups]
        self.precision = resolve_precision(cfg.precision, self.device)
        scaled = self.precision == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=scaled)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=scaled)
        self.on_checkpoint = on_checkpoint
        self.iteration = 0
        self._rows: list[dict[str, float]] = []
        self._checkpoint: dict[str, Any] | None = None
        self._rng_state: dict[str, Tensor] | None = None
        self._elapsed = 0.0

    def _adam(self, module: nn.Module, lr: float, side: str) -> torch.optim.Optimizer:
        params = _trainable(module)
        if not params:
            raise ValueError(f"{self.label}: the {side} has no trainable parameters")
        return torch.optim.Adam(params, lr=lr, betas=self.config.betas, fused=True)

    @property
    def history(self) -> pd.DataFrame:
        """One row per completed iteration: iteration, loss_d, loss_g, metrics..., seconds."""
        if not self._rows:
            return pd.DataFrame(columns=["iteration", "loss_d", "loss_g", "seconds"])
        return pd.DataFrame(self._rows)

    def state_dict(self) -> dict[str, Any]:
        """CPU copy of everything needed to resume: iteration, both modules, optimizers, scalers."""
        return _clone_to_cpu({
            "iteration": self.iteration,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
        })

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict` (the history is truncated to its iteration)."""
        state = _clone_to_cpu(state)  # never alias the stored copy
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state.get("scaler_g"):
            self.scaler_g.load_state_dict(state["scaler_g"])
        if state.get("scaler_d"):
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.iteration = int(state["iteration"])
        self._rows = [r for r in self._rows if r["iteration"] <= self.iteration]

    def fit(self, data: Any = None, iterations: int | None = None) -> pd.DataFrame:
        """Run `iterations` (default ``config.iterations``) more iterations; return the history.

        data: where batches come from: None (``problem.next_batch()``), a callable returning a
        batch, a re-iterable such as a DataLoader (restarted each epoch), or a one-shot iterator
        (training stops early when it runs out). Each D step draws a batch; the G step reuses
        the last D step's batch. Tensors in a batch are moved to the trainer's device.
        Raises `GANDivergenceError` (after rolling back to the last checkpoint) on NaN/inf.
        """
        cfg = self.config
        n_iter = cfg.iterations if iterations is None else iterations
        with self._own_stream():
            next_batch = batch_source(data, self.problem)
            if cfg.warmup > self.iteration and not callable(getattr(self.problem, "warmup_loss",
                                                                    None)):
                raise TypeError(f"{self.label}: warmup = {cfg.warmup} needs a problem with "
                                "warmup_loss(batch)")
            if self._checkpoint is None:
                self._take_checkpoint()
            start = time.perf_counter() - self._elapsed
            show = cfg.progress and sys.stderr.isatty()
            with tqdm(total=n_iter, desc=self.label, disable=not show, leave=False) as bar:
                for _ in range(n_iter):
                    it = self.iteration + 1
                    try:
                        row = self._iterate(it, next_batch)
                    except DataExhausted:
                        logger.info("%s: data exhausted after %d iterations", self.label, it - 1)
                        break
                    self._elapsed = time.perf_counter() - start
                    row["seconds"] = self._elapsed
                    self._rows.append(row)
                    self.iteration = it
                    if it % cfg.checkpoint_every == 0:
                        self._take_checkpoint()
                    bar.update(1)
                    if cfg.log_every and it % cfg.log_every == 0:
                        bar.set_postfix(loss_d=f"{row['loss_d']:.4f}",
                                        loss_g=f"{row['loss_g']:.4f}")
                        logger.info("%s: iteration %d loss_d %.4f loss_g %.4f",
                                    self.label, it, row["loss_d"], row["loss_g"])
        return self.history

    @contextmanager
    def _own_stream(self) -> Iterator[None]:
        """Within the block torch's default generators run the trainer's own stream
        (``config.seed``: seeded on the first fit, continued by the next ones); on exit they are
        as they were. Without a seed, the global stream itself."""
        if self.config.seed is None:
            yield
            return
        with scoped_rng():
            if self._rng_state is None:
                seed_weights(self.config.seed)
            else:
                set_torch_rng_state(self._rng_state)
            try:
                yield
            finally:
                self._rng_state = torch_rng_state()

    def _lr_factor(self, it: int) -> float:
        """Multiplier of the base learning rates at iteration ``it`` (1-based)."""
        cfg = self.config
        if cfg.iterations <= 1:
            return 1.0
        progress = min(1.0, (it - 1) / (cfg.iterations - 1))
        return LR_SCHEDULES[cfg.lr_decay](progress, cfg.lr_final_ratio)

    def _iterate(self, it: int, next_batch: Callable[[], Any]) -> dict[str, float]:
        """One iteration: n_critic updates of D (G frozen), then one update of G (D frozen)."""
        cfg = self.config
        factor = self._lr_factor(it)
        for optimizer, base in ((self.opt_g, self._base_lr_g), (self.opt_d, self._base_lr_d)):
            for group, lr in zip(optimizer.param_groups, base, strict=True):
                group["lr"] = lr * factor
        if it <= cfg.warmup:  # generator alone on its non-adversarial loss
            batch = to_device(next_batch(), self.device)
            with frozen(self.discriminator):
                loss_g, g_metrics = self._step(self.problem.warmup_loss, batch, self.opt_g,
                                               self.scaler_g, self.generator, "loss_g", it)
            return {"iteration": it, "loss_d": math.nan, "loss_g": loss_g,
                    **{k: float(v) for k, v in g_metrics.items()}}
        d_losses: list[float] = []
        d_metrics: dict[str, float] = {}
        with frozen(self.generator):  # max_D: G(n|c) is a constant
            for _ in range(cfg.n_critic):
                batch = to_device(next_batch(), self.device)
                value, metrics = self._step(self.problem.discriminator_loss, batch, self.opt_d,
                                            self.scaler_d, self.discriminator, "loss_d", it)
                d_losses.append(value)
                for k, v in metrics.items():
                    d_metrics[k] = d_metrics.get(k, 0.0) + float(v) / cfg.n_critic
        with frozen(self.discriminator):  # min_G: D is a constant
            loss_g, g_metrics = self._step(self.problem.generator_loss, batch, self.opt_g,
                                           self.scaler_g, self.generator, "loss_g", it)
        row: dict[str, float] = {"iteration": it, "loss_d": sum(d_losses) / len(d_losses),
                                 "loss_g": loss_g}
        row.update(d_metrics)
        row.update({k: float(v) for k, v in g_metrics.items()})
        return row

    def _step(self, loss_fn: Callable[[Any], tuple[Tensor, Metrics]], batch: Any,
              optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, module: nn.Module,
              which: str, it: int) -> tuple[float, Metrics]:
        """One optimizer step on one side; returns (loss value, metrics)."""
        optimizer.zero_grad(set_to_none=True)
        with autocast(self.precision, self.device):
            loss, metrics = loss_fn(batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise self._diverged(it, which, value)
        scaler.scale(loss).backward()
        if self.config.grad_clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return value, metrics

    def _take_checkpoint(self) -> None:
        """Keep a copy of the current state (refusing a state with non-finite entries)."""
        state = self.state_dict()
        for side in ("generator", "discriminator"):
            for key, tensor in state[side].items():
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    raise self._diverged(self.iteration, "parameters", f"{side}.{key}")
        self._checkpoint = state
        if self.on_checkpoint is not None:
            self.on_checkpoint(state)

    def _diverged(self, it: int, which: str, value: Any) -> GANDivergenceError:
        """Roll back to the last checkpoint and build the error."""
        history = self.history
        good = self._checkpoint
        restored = "no checkpoint to restore"
        ckpt_it = -1
        if good is not None:
            self.load_state_dict(good)
            ckpt_it = int(good["iteration"])
            restored = f"state restored to the last good checkpoint (iteration {ckpt_it})"
        what = f"non-finite {value}" if which == "parameters" else f"{value}"
        message = (f"{self.label}: {which} is {what} at iteration {it}; training stopped, "
                   f"{restored}. Try a lower learning rate, grad_clip or another loss mode.")
        return GANDivergenceError(message, it, which, history, ckpt_it)

