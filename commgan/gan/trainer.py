"""The one alternating D/G training loop for every GAN in the project.

The survey's eq. (2), ``min_G max_D E[log D(i|c)] + E[log(1 - D(G(n|c)|c))]``, is optimised by
alternating gradient steps: ``n_critic`` steps on L_D with the generator frozen, then one step on
L_G with the discriminator frozen. What the two sides *are* is left to a `GANProblem`:

- ``generator``: one `nn.Module` holding every generator-side parameter (e.g. a channel GAN's G,
  or a transmitter and the legitimate receiver in an ``nn.ModuleDict``);
- ``discriminator``: one `nn.Module` holding every adversary-side parameter (a discriminator, or
  an eavesdropper and critics);
- ``discriminator_loss(batch)`` / ``generator_loss(batch)``: ``(scalar loss, {name: float})``;
- optionally ``next_batch()`` when no data is passed to `GANTrainer.fit`;
- optionally ``warmup_loss(batch)``: the generator's non-adversarial loss, trained alone for the
  first ``TrainerConfig.warmup`` iterations (e.g. SRGAN starts from a content-loss-trained G).

`AdversarialGAN` implements that protocol for the standard G(n[, c]) vs D(x[, c]) game.
`GANTrainer.fit` returns a per-iteration history (a DataFrame) from which `crossover_iteration` and
`equilibrium_iteration` compute convergence points.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from commgan.gan.losses import GANLoss, gradient_penalty

__all__ = [
    "LN2",
    "AdversarialGAN",
    "GANDivergenceError",
    "GANProblem",
    "GANTrainer",
    "TrainerConfig",
    "crossover_iteration",
    "equilibrium_iteration",
    "frozen",
    "separation_iteration",
]

logger = logging.getLogger(__name__)

LN2 = math.log(2.0)
"""ln 2: value of L_D (mean BCE) and of the non-saturating L_G at the equilibrium D = 1/2."""

Metrics = dict[str, float]
ExtraLoss = Callable[[Tensor, Any], Tensor]


@runtime_checkable
class GANProblem(Protocol):
    """What `GANTrainer` trains: two parameter sets and their losses.

    The two modules must not share parameters. Losses are scalars to be *minimised* by their
    side; metrics are plain floats recorded as history columns. A problem may also define
    ``next_batch() -> batch``, used when `GANTrainer.fit` gets no data.
    """

    generator: nn.Module
    discriminator: nn.Module

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """L_D on one batch (the generator is frozen while this is minimised)."""
        ...

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """L_G on one batch (the discriminator is frozen while this is minimised)."""
        ...


class AdversarialGAN:
    """The standard game G(n[, c]) vs D(x[, c]) as a `GANProblem`.

    generator: ``G(noise)``, ``G(noise, condition)`` or, when ``noise_shape`` is None (pix2pix,
    SRGAN), ``G(condition)``; returns samples shaped like the real ones, [B, ...].
    discriminator: ``D(x)`` or ``D(x, condition)`` -> logits/scores [B, ...].
    loss: a `GANLoss` mode ("minimax", "nonsaturating", "lsgan", "hinge", "wgan") or object.
    noise_shape: per-sample noise shape, n ~ N(0, I) of shape [B, *noise_shape]; None for none.
    gp_weight: lambda of the WGAN-GP term added to L_D (0 disables it).
    extra_losses: ``{name: (weight, fn)}`` with ``fn(fake, batch) -> scalar`` added to L_G,
    e.g. ``{"l1": (100.0, lambda fake, b: F.l1_loss(fake, b[0]))}`` for pix2pix.
    adv_weight: weight of the adversarial term in L_G (e.g. 1e-3 for SRGAN).
    condition_discriminator: pass the condition to D too (CGAN/pix2pix); False for SRGAN.
    sampler: ``sampler() -> batch`` used by `next_batch`.
    mixed_batch: D scores real and generated samples in one call (concatenated along the batch,
    the condition repeated), in the D step and in the G step, so that D's batch-norm statistics
    are those of a mixed batch. With separate batches (the default), batch norm normalises each
    batch by its own statistics, which hides from D any difference in a feature's mean or
    scale between real and generated samples (e.g. a wrong noise power).

    A batch is ``real`` [B, ...], ``(real, condition)`` or ``{"real": ..., "condition": ...}``.
    Metrics: ``d_real``/``d_fake`` (mean D output on real/generated samples, as probabilities
    in the BCE modes), ``gp`` when used, ``g_adv`` and ``g_<name>`` per extra loss (unweighted).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: str | GANLoss = "nonsaturating",
        *,
        noise_shape: tuple[int, ...] | None = None,
        gp_weight: float = 0.0,
        extra_losses: Mapping[str, tuple[float, ExtraLoss]] | None = None,
        adv_weight: float = 1.0,
        condition_discriminator: bool = True,
        sampler: Callable[[], Any] | None = None,
        mixed_batch: bool = False,
    ) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.loss = loss if isinstance(loss, GANLoss) else GANLoss(loss)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        if gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight}")
        self.gp_weight = float(gp_weight)
        self.extra_losses = dict(extra_losses or {})
        self.adv_weight = float(adv_weight)
        self.condition_discriminator = condition_discriminator
        self.sampler = sampler
        self.mixed_batch = mixed_batch

    @staticmethod
    def split(batch: Any) -> tuple[Tensor, Any]:
        """Return (real [B, ...], condition or None) from a batch."""
        if isinstance(batch, Tensor):
            return batch, None
        if isinstance(batch, Mapping):
            return batch["real"], batch.get("condition")
        if isinstance(batch, (tuple, list)) and len(batch) in (1, 2):
            return batch[0], (batch[1] if len(batch) == 2 else None)
        raise TypeError("a batch is real, (real, condition) or {'real': ..., 'condition': ...}")

    def next_batch(self) -> Any:
        """One batch from ``sampler``."""
        if self.sampler is None:
            raise TypeError("AdversarialGAN has no sampler: pass data to GANTrainer.fit")
        return self.sampler()

    def generate(self, batch_size: int, condition: Any = None,
                 device: torch.device | str = "cpu") -> Tensor:
        """G(n|c): generated samples [batch_size, ...] on `device`."""
        if self.noise_shape is None:
            if condition is None:
                raise ValueError("noise_shape is None, so the generator needs a condition")
            return self.generator(condition)
        noise = torch.randn(batch_size, *self.noise_shape, device=device)
        return self.generator(noise) if condition is None else self.generator(noise, condition)

    def _d(self, x: Tensor, condition: Any) -> Tensor:
        return self.discriminator(x) if condition is None else self.discriminator(x, condition)

    def _d_pair(self, real: Tensor, fake: Tensor, condition: Any) -> tuple[Tensor, Tensor]:
        """D's outputs on (real, fake): two calls, or one on the mixed batch (`mixed_batch`)."""
        if not self.mixed_batch:
            return self._d(real, condition), self._d(fake, condition)
        both_condition = None if condition is None else torch.cat([condition, condition])
        out = self._d(torch.cat([real, fake]), both_condition)
        return out[:real.shape[0]], out[real.shape[0]:]

    def _mean_score(self, out: Tensor) -> float:
        out = out.detach().float()
        return float((torch.sigmoid(out) if self.loss.is_probabilistic else out).mean())

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """L_D (+ lambda * GP) on a batch; metrics d_real, d_fake[, gp]."""
        real, condition = self.split(batch)
        with torch.no_grad():  # the fake is a constant for D: G(n|c) detached
            fake = self.generate(real.shape[0], condition, real.device)
        d_cond = condition if self.condition_discriminator else None
        real_out, fake_out = self._d_pair(real, fake, d_cond)  # D(i|c), D(G(n|c)|c)
        loss = self.loss.discriminator_loss(real_out, fake_out)
        metrics = {"d_real": self._mean_score(real_out), "d_fake": self._mean_score(fake_out)}
        if self.gp_weight > 0:
            gp = gradient_penalty(self.discriminator, real, fake, d_cond)
            loss = loss + self.gp_weight * gp
            metrics["gp"] = float(gp.detach())
        return loss, metrics

    def warmup_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """Sum of the weighted extra losses alone (no D); metrics g_<name>."""
        if not self.extra_losses:
            raise TypeError("warm-up needs extra (non-adversarial) generator losses")
        real, condition = self.split(batch)
        fake = self.generate(real.shape[0], condition, real.device)
        loss = torch.zeros((), device=real.device)
        metrics = {}
        for name, (weight, fn) in self.extra_losses.items():
            term = fn(fake, batch)
            loss = loss + weight * term
            metrics[f"g_{name}"] = float(term.detach())
        return loss, metrics

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """adv_weight * L_G + sum of weighted extra losses; metrics g_adv, g_<name>."""
        real, condition = self.split(batch)
        fake = self.generate(real.shape[0], condition, real.device)
        d_cond = condition if self.condition_discriminator else None
        if self.mixed_batch:
            fake_out = self._d_pair(real.detach(), fake, d_cond)[1]
        else:
            fake_out = self._d(fake, d_cond)
        adv = self.loss.generator_loss(fake_out)
        loss = self.adv_weight * adv
        metrics = {"g_adv": float(adv.detach())}
        for name, (weight, fn) in self.extra_losses.items():
            term = fn(fake, batch)
            loss = loss + weight * term
            metrics[f"g_{name}"] = float(term.detach())
        return loss, metrics


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
    amp: bool = False
    """Mixed precision (autocast fp16 + GradScaler); only takes effect on CUDA."""
    device: str = "auto"
    """Torch device; "auto" = "cuda" if available, else "cpu"."""
    seed: int | None = 0
    """Global torch seed set when fit() first runs; None leaves the RNG alone."""
    progress: bool = True
    """Show a tqdm bar (also off when stderr is not a TTY)."""
    log_every: int = 100
    """Log losses (and update the bar) every this many iterations; 0 disables."""
    checkpoint_every: int = 100
    """Keep an in-memory copy of all state every this many iterations (NaN-guard rollback)."""
    lr_decay: str = "none"
    """Learning-rate schedule of both sides over `iterations`: "none" or "cosine"."""
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
        if self.lr_decay not in ("none", "cosine"):
            raise ValueError(f"lr_decay must be 'none' or 'cosine', got {self.lr_decay!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))


class GANDivergenceError(RuntimeError):
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


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to `device`."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class _Exhausted(Exception):
    """The one-shot batch iterator passed to fit() ran out."""


def _batch_source(data: Any, problem: Any) -> Callable[[], Any]:
    """A ``next() -> batch`` function from fit()'s data argument (see `GANTrainer.fit`)."""
    if data is None:
        if not callable(getattr(problem, "next_batch", None)):
            raise TypeError("pass data to fit() or give the problem a next_batch() method")
        return problem.next_batch
    if isinstance(data, Iterator):
        def next_from_iterator() -> Any:
            try:
                return next(data)
            except StopIteration:
                raise _Exhausted from None
        return next_from_iterator
    if isinstance(data, Iterable):
        state = {"it": iter(data)}

        def next_from_iterable() -> Any:  # restarts the iterable (e.g. a DataLoader) each epoch
            try:
                return next(state["it"])
            except StopIteration:
                state["it"] = iter(data)
                try:
                    return next(state["it"])
                except StopIteration:
                    raise _Exhausted from None
        return next_from_iterable
    if callable(data):
        return data
    raise TypeError(f"fit() data must be an iterable, an iterator or a callable, got {type(data)}")


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
        self.device = _resolve_device(self.config.device)
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
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=self.use_amp)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=self.use_amp)
        self.on_checkpoint = on_checkpoint
        self.iteration = 0
        self._rows: list[dict[str, float]] = []
        self._checkpoint: dict[str, Any] | None = None
        self._seeded = False
        self._elapsed = 0.0

    def _adam(self, module: nn.Module, lr: float, side: str) -> torch.optim.Optimizer:
        params = _trainable(module)
        if not params:
            raise ValueError(f"{self.label}: the {side} has no trainable parameters")
        return torch.optim.Adam(params, lr=lr, betas=self.config.betas)

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
        if cfg.seed is not None and not self._seeded:
            torch.manual_seed(cfg.seed)
        self._seeded = True
        next_batch = _batch_source(data, self.problem)
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
                except _Exhausted:
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
                    bar.set_postfix(loss_d=f"{row['loss_d']:.4f}", loss_g=f"{row['loss_g']:.4f}")
                    logger.info("%s: iteration %d loss_d %.4f loss_g %.4f",
                                self.label, it, row["loss_d"], row["loss_g"])
        return self.history

    def _lr_factor(self, it: int) -> float:
        """Multiplier of the base learning rates at iteration ``it`` (1-based)."""
        cfg = self.config
        if cfg.lr_decay == "none" or cfg.iterations <= 1:
            return 1.0
        progress = min(1.0, (it - 1) / (cfg.iterations - 1))
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return cfg.lr_final_ratio + (1 - cfg.lr_final_ratio) * cosine

    def _iterate(self, it: int, next_batch: Callable[[], Any]) -> dict[str, float]:
        """One iteration: n_critic updates of D (G frozen), then one update of G (D frozen)."""
        cfg = self.config
        factor = self._lr_factor(it)
        for optimizer, base in ((self.opt_g, self._base_lr_g), (self.opt_d, self._base_lr_d)):
            for group, lr in zip(optimizer.param_groups, base, strict=True):
                group["lr"] = lr * factor
        if it <= cfg.warmup:  # generator alone on its non-adversarial loss
            batch = _to_device(next_batch(), self.device)
            with frozen(self.discriminator):
                loss_g, g_metrics = self._step(self.problem.warmup_loss, batch, self.opt_g,
                                               self.scaler_g, self.generator, "loss_g", it)
            return {"iteration": it, "loss_d": math.nan, "loss_g": loss_g,
                    **{k: float(v) for k, v in g_metrics.items()}}
        d_losses: list[float] = []
        d_metrics: dict[str, float] = {}
        with frozen(self.generator):  # max_D: G(n|c) is a constant
            for _ in range(cfg.n_critic):
                batch = _to_device(next_batch(), self.device)
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
        with torch.autocast(device_type=self.device.type, enabled=self.use_amp):
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


def _smoothed(series: pd.Series, smooth: int) -> pd.Series:
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    return series.astype(float).rolling(smooth, center=True, min_periods=1).mean()


def separation_iteration(history: pd.DataFrame, margin: float, smooth: int = 1) -> int | None:
    """First iteration at which the smoothed loss_g - loss_d reaches ``margin`` (nats).

    With the BCE losses, L_G - L_D > 0 to first order exactly when D scores real samples above
    generated ones, so this is where D has learned to tell them apart (an untrained D gives
    both losses ~ln 2). history, smooth: as in `crossover_iteration`. None if never.
    """
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    history = history.dropna(subset=["loss_d"])  # warm-up rows have no L_D
    if len(history) == 0:
        return None
    diff = _smoothed(history["loss_g"] - history["loss_d"], smooth).to_numpy()
    ahead = np.flatnonzero(diff >= margin)
    return int(history["iteration"].iloc[ahead[0]]) if len(ahead) else None


def crossover_iteration(history: pd.DataFrame, smooth: int = 1,
                        margin: float | None = None) -> int | None:
    """First iteration at which the smoothed loss_g - loss_d changes sign (or reaches 0).

    history: a `GANTrainer` history (columns iteration, loss_d, loss_g). smooth: width of a
    centred moving average (1 = none). margin: if given (nats), only the crossing of the
    survey's Figs. 8-10 counts: L_G must first exceed L_D by ``margin`` (D ahead, see
    `separation_iteration`), and the crossover is the first later iteration at which the
    smoothed L_G - L_D is <= 0 (G caught up); sign changes of the first iterations, where an
    untrained D puts both losses near ln 2 in either order, are ignored. Returns the
    iteration number, or None if never.
    """
    history = history.dropna(subset=["loss_d"])  # warm-up rows have no L_D
    if len(history) == 0:
        return None
    diff = _smoothed(history["loss_g"] - history["loss_d"], smooth).to_numpy()
    if margin is not None:
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        ahead = np.flatnonzero(diff >= margin)
        if len(ahead) == 0:
            return None
        caught = np.flatnonzero(diff[ahead[0]:] <= 0)
        return int(history["iteration"].iloc[ahead[0] + caught[0]]) if len(caught) else None
    signs = np.sign(diff)
    nonzero = np.flatnonzero(signs != 0)
    if len(nonzero) == 0:
        return None
    first = nonzero[0]
    changed = np.flatnonzero(signs[first:] != signs[first])
    if len(changed) == 0:
        return None
    return int(history["iteration"].iloc[first + changed[0]])


def equilibrium_iteration(
    history: pd.DataFrame,
    eps: float = 0.05,
    window: int = 50,
    target_d: float = LN2,
    target_g: float = LN2,
    smooth: int = 1,
    start: int | None = None,
) -> int | None:
    """First iteration from which |loss_d - target_d| < eps and |loss_g - target_g| < eps hold
    for `window` consecutive iterations (ln 2 = the BCE losses at D = 1/2; use target_g = -ln 2
    for the minimax L_G). smooth: centred moving-average width. start: only windows that begin
    at this iteration or later count (e.g. the `separation_iteration`, so that the first
    iterations of an untrained D, at ln 2 by construction, are not taken for an equilibrium).
    Returns None if never reached.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    history = history.dropna(subset=["loss_d"])  # warm-up rows have no L_D
    if len(history) < window:
        return None
    d = _smoothed(history["loss_d"], smooth)
    g = _smoothed(history["loss_g"], smooth)
    ok = (((d - target_d).abs() < eps) & ((g - target_g).abs() < eps)).astype(float)
    full = np.flatnonzero(ok.rolling(window).sum().to_numpy() >= window)
    begins = history["iteration"].to_numpy()[full - window + 1]
    if start is not None:
        begins = begins[begins >= start]
    return int(begins[0]) if len(begins) else None
