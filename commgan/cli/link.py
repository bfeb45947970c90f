"""``commgan simulate`` and ``commgan train``: BER sweeps and learned links."""

from __future__ import annotations

import math

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import TABLE_QUIET_HELP, RunContext, run_command
from commgan.cli.options import (
    OFFSET_LIMIT_DB,
    RegistryChoice,
    RegistryHelpOption,
    channel_option,
    check_frame_bits,
    check_out_dir,
    default_sweep,
    finite,
    frame_bits_check,
    key_option,
    learned_system_names,
    mod_option,
    parse_ebno,
    parse_train_ebno,
    positive,
    precision_names,
    system_names,
    train_ebno_defaults,
)
from commgan.cli.workers import check_precision
from commgan.configfile import config_option
from commgan.errors import CommganError, shown
from commgan.fileio import claim_output


@on_interrupt("finished points are kept, rerun the same command to resume")
@cli.command(topic="link")
@config_option
@channel_option
@mod_option
@click.option("--system", "systems", cls=RegistryHelpOption, names=system_names,
              default=default_sweep, show_default="the registry's default sweep",
              help="Comma-separated systems to simulate, each with options after a colon "
                   "(qam,qam-ldpc:k=512,n=1024,iterations=20), or package.module:Class.")
@click.option("--ebno", default="0:20:2", show_default=True,
              help="Eb/N0 grid in dB: START:STOP:STEP (inclusive) or a comma list.")
@click.option("--target-errors", type=int, default=None, callback=positive,
              help="Bit errors per point and receiver [default: 1000, off when only "
                   "--target-block-errors is given].")
@click.option("--target-block-errors", type=int, default=None, callback=positive,
              help="Block errors (codewords; frames for uncoded systems) per point and "
                   "receiver; a point stops when either target is met.  [default: off]")
@click.option("--max-bits", type=int, default=10_000_000, show_default=True,
              callback=positive, help="Most bits per point.")
@click.option("--frame-bits", type=int, default=None, callback=frame_bits_check,
              help="Frame length L in bits [default: the smallest multiple of every system's "
                   "frame multiple (a code's k) that is at least 512].")
@click.option("--metric", type=click.Choice(["auto", "ber", "bler"], case_sensitive=False),
              default="auto", show_default=True,
              help="Terminal table: BER, BLER, or auto = BER, and BLER too when a system has "
                   "codewords (ber.png and bler.png are always written).")
@click.option("--intervals", is_flag=True,
              help="Show each value's 95% interval in the terminal table.")
@click.option("--eve-ebno-offset", type=float, default=0.0, show_default=True,
              callback=finite(-OFFSET_LIMIT_DB, OFFSET_LIMIT_DB),
              help="Eve's Eb/N0 minus Bob's, in dB.")
@key_option("Shared key file")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/simulate-CHANNEL-MOD, the channel's options "
                   "in CHANNEL as in model names].")
@run_command(models=True, seed=True, workers=True, quiet_help=TABLE_QUIET_HELP)
def simulate(run: RunContext, channel, mod, systems, ebno, target_errors, target_block_errors,
             max_bits, frame_bits, metric, intervals, eve_ebno_offset, key_file, out_dir
             ) -> None:
    """Monte Carlo BER, FER and BLER of each system (Bob, and Eve for keyed systems), next to
    theory where the system has one.

    Writes results.csv, ber.png, bler.png and config.json to the output folder. An interrupted
    run resumes from its finished points when rerun with the same options.
    """
    grid = parse_ebno(ebno)
    if len(grid) > 1:  # several units: the workers import while this process does (below)
        run.start_workers("commgan.sim.sweep", "commgan.comm.registry")
    from channels import channel_choice
    from commgan.comm.keys import load_key
    from commgan.comm.registry import file_label, parse_system_names, system_spec
    from commgan.sim.config import SimulationConfig
    from commgan.sim.results import format_table
    from commgan.sim.sweep import run_sweep
    from commgan.systems import build_systems

    names = parse_system_names(systems)
    run.check_backend()
    device = run.device
    channel, mod = channel.lower(), mod.lower()
    needs_key = any(system_spec(name).keyed for name in names)
    key, key_source = load_key(key_file) if (needs_key or key_file) else (None, "none")
    bits_per_symbol = check_frame_bits(frame_bits, mod)
    if target_errors is None and target_block_errors is None:
        target_errors = 1000
    out = claim_output(check_out_dir(out_dir or f"results/simulate-{file_label(channel)}-{mod}"))
    built = build_systems(names, run.system_context(mod, channel, key))
    if frame_bits is None:
        frame_bits = default_frame_bits([bits_per_symbol, *(
            multiple for system in built.values()
            for multiple in (system.frame_multiple, system.block_bits) if multiple)])
    config = SimulationConfig(
        channel=channel, mod=mod, systems=tuple(names), ebno_db=grid,
        target_errors=target_errors, target_block_errors=target_block_errors,
        max_bits=max_bits, frame_bits=frame_bits,
        channel_options=channel_choice(channel).changed_options,
        eve_ebno_offset_db=eve_ebno_offset, seed=run.seed, device=device,
        models=built.fingerprints(),
    )
    run.log(f"simulating {', '.join(names)} over {channel} with {mod} on {device}"
            f" (key: {key_source})")
    results = run_sweep(config, built, out, progress=run.progress, log=run.log,
                        extra_metadata={"key_source": key_source}, **run.workers)
    metric = metric.lower()
    coded = any(system.block_bits for system in built.values())
    metrics = [metric] if metric != "auto" else ["ber", "bler"] if coded else ["ber"]
    click.echo("\n\n".join(format_table(results, name, intervals) for name in metrics))
    run.log(f"wrote {out / 'results.csv'}, {out / 'ber.png'}, {out / 'bler.png'}, "
            f"{out / 'config.json'}")


def default_frame_bits(multiples: list[int], at_least: int = 512) -> int:
    """The smallest multiple of every one of ``multiples`` that is at least ``at_least``."""
    step = math.lcm(*multiples)
    return step * max(1, -(-at_least // step))


@on_interrupt("the model is saved only when training finishes; the cached one is unchanged")
@cli.command(topic="link")
@config_option
@click.option("--system", "system_name", cls=RegistryHelpOption, names=learned_system_names,
              default="ae", show_default=True,
              help="Learned system to train, with its options after a colon "
                   "(ae-ldpc:k=750,n=1500).")
@channel_option
@mod_option
@click.option("--steps", type=int, default=None, callback=positive,
              help="Training steps [default: 3000 for ae, 2000 for gan-enc].")
@click.option("--train-ebno", default=None, cls=RegistryHelpOption, tail=train_ebno_defaults,
              help="Training Eb/N0 in dB: one value or LOW:HIGH (uniform per frame).")
@click.option("--lambda-covert", type=float, default=None, callback=finite(0.0, 1e6),
              help="gan-enc: weight of the covertness critic (BER for a noise-like waveform).")
@click.option("--precision", type=RegistryChoice(precision_names), default="auto",
              show_default=True,
              help="Training arithmetic: auto = bf16 mixed precision where the CPU/GPU runs it "
                   "natively, else fp32 (the trained model always runs in fp32).")
@run_command(models=True, seed=True)
def train(run: RunContext, system_name, channel, mod, steps, train_ebno, lambda_covert,
          precision) -> None:
    """Train a learned system and store it in the model cache (replacing the cached one)."""
    from channels import get_modulation
    from commgan.comm.registry import system_choice
    from commgan.systems import load_or_train

    choice = system_choice(system_name)
    if choice.spec.learned is None:
        raise CommganError(f"system {shown(choice.label)} is not learned; nothing to train "
                           f"(learned: {', '.join(learned_system_names())})")
    name, channel, mod = choice.label, channel.lower(), mod.lower()
    training = choice.spec.learned.default_training(get_modulation(mod), channel)
    training.seed = run.seed
    training.precision = check_precision(precision, run.device)
    training.train_ebno_db = parse_train_ebno(train_ebno)
    if steps:
        training.steps = steps
    if lambda_covert is not None:
        if not hasattr(training, "lambda_covert"):
            raise CommganError(f"--lambda-covert applies to gan-enc systems, not {name}")
        training.lambda_covert = lambda_covert
    run.writable_models()
    loaded = load_or_train(name, run.system_context(mod, channel), training, retrain=True)
    click.echo(f"saved {loaded.model.weights}")
