"""``commgan attack`` and ``commgan export``: the security evaluation."""

from __future__ import annotations

from pathlib import Path

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import TABLE_QUIET_HELP, RunContext, run_command
from commgan.cli.options import (
    EBNO_LIMIT_DB,
    OFFSET_LIMIT_DB,
    RegistryHelpOption,
    channel_option,
    check_frame_bits,
    check_out_dir,
    finite,
    frame_bits_check,
    key_option,
    mod_option,
    parse_ebno,
    positive,
    scenario_names,
    system_names,
)
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output


@on_interrupt("results are written only when the attack finishes, a rerun starts over; "
              "models trained before the interrupt stay cached")
@cli.command(topic="security")
@config_option
@click.option("--system", "systems", default="gan-enc", show_default=True,
              cls=RegistryHelpOption, names=system_names,
              help="Comma-separated systems to attack.")
@channel_option
@mod_option
@click.option("--scenarios", default="all", show_default=True, cls=RegistryHelpOption,
              names=scenario_names,
              help="all, or a comma list of scenarios (key scenarios skip unkeyed systems).")
@click.option("--ebno", default="0,10,20", show_default=True,
              help="Bob's Eb/N0 in dB: START:STOP:STEP (inclusive) or a comma list.")
@click.option("--budget", type=click.Choice(["small", "full"], case_sensitive=False),
              default="small", show_default=True,
              help="small: N = 1e5 known bits, 3 restarts; full: N = 1e6, 4 restarts.")
@click.option("--frame-bits", type=int, default=256, show_default=True,
              callback=frame_bits_check,
              help="Frame length L in bits.")
@key_option("Alice and Bob's key file (Eve never gets it)")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/attack-SYSTEM-CHANNEL-MOD].")
@run_command(models=True, seed=True, workers=True, quiet_help=TABLE_QUIET_HELP)
def attack(run: RunContext, systems, channel, mod, scenarios, ebno, budget, frame_bits, key_file,
           out_dir) -> None:
    """Train fresh eavesdroppers against frozen links and give a verdict per scenario.

    A BER row holds when Eve's 95% interval lies inside [0.49, 0.51]. Writes attack.csv,
    attack.png and config.json to the output folder.
    """
    from commgan.comm.keys import load_key
    from commgan.comm.registry import file_label, parse_system_names
    from commgan.security.attack import AttackConfig, run_attack
    from commgan.security.report import format_attack_table, write_attack_results
    from commgan.security.scenarios import parse_scenarios
    from commgan.systems import build_systems

    names = parse_system_names(systems)
    chosen = parse_scenarios(scenarios)
    grid = parse_ebno(ebno)
    channel, mod, device = channel.lower(), mod.lower(), run.device
    check_frame_bits(frame_bits, mod)
    key, key_source = load_key(key_file)
    out = check_out_dir(out_dir or f"results/attack-{'_'.join(map(file_label, names))}-"
                                   f"{file_label(channel)}-{mod}")
    config = AttackConfig(systems=tuple(names), channel=channel, mod=mod, scenarios=chosen,
                          ebno_db=grid, budget=budget.lower(), frame_bits=frame_bits,
                          seed=run.seed, device=device)
    _check_applicable(config)
    run.check_backend()
    claim_output(out)
    built = build_systems([name for name, _ in config.attacked_systems()],
                          run.system_context(mod, channel, key))
    config.models = built.fingerprints()
    run.log(f"attacking {', '.join(names)} over {channel} with {mod} on {device}, budget "
            f"{config.budget} (key: {key_source}; Eve never gets it)")
    results = run_attack(config, built, key, progress=run.progress, log=run.log, **run.workers)
    write_attack_results(results, out, config, {"key_source": key_source})
    click.echo(format_attack_table(results))
    run.log(f"wrote {out / 'attack.csv'}, {out / 'attack.png'}, {out / 'config.json'}")



def _check_applicable(config) -> None:
    """One error before any work when no chosen scenario applies to any attacked system."""
    from commgan.comm.registry import system_spec
    from commgan.security.scenarios import SCENARIOS

    if not any(system_spec(name).keyed or not SCENARIOS[scenario].keyed_only
               for name, scenarios in config.attacked_systems() for scenario in scenarios):
        raise CommganError(f"--scenarios {','.join(config.scenarios)} apply only to keyed "
                           f"systems, and {', '.join(config.systems)} has no key: nothing to "
                           "attack")


@on_interrupt("the archive appears only when the export finishes, its scratch files were "
              "removed and an existing archive is unchanged; a rerun starts over")
@cli.command("export", topic="security")
@config_option
@click.option("--system", "system_name", required=True, cls=RegistryHelpOption,
              names=system_names, help="The link to record.")
@channel_option
@mod_option
@click.option("--frames", type=int, required=True, callback=positive,
              help="Frames N (per split).")
@click.option("--frame-bits", type=int, required=True, callback=frame_bits_check,
              help="Frame length L in bits (a multiple of R).")
@click.option("--ebno", type=float, required=True, callback=finite(-EBNO_LIMIT_DB, EBNO_LIMIT_DB),
              help="Bob's Eb/N0 in dB.")
@click.option("--eve-ebno-offset", type=float, default=0.0, show_default=True,
              callback=finite(-OFFSET_LIMIT_DB, OFFSET_LIMIT_DB),
              help="Eve's Eb/N0 minus Bob's, in dB (Eve has her own channel realisation).")
@click.option("--split", "split_spec", default=None,
              help="Splits with disjoint nonces, NAME[:FRAMES],... e.g. train,test or "
                   "train:8000,test:2000; stored as NAME/FIELD [default: one split, fields "
                   "under plain names].")
@key_option("Key file of keyed systems, never written to the archive")
@click.option("--out", "out_file", default=None,
              help="Archive (.npz) [default: results/wiretap-SYSTEM-CHANNEL-MOD-EBNOdB.npz].")
@run_command(models=True, seed=True, workers=True)
def export(run: RunContext, system_name, channel, mod, frames, frame_bits, ebno, eve_ebno_offset,
           split_spec, key_file, out_file) -> None:
    """Write a wiretap dataset: per frame the true bits, the public nonce, the transmitted
    symbols and what Bob and Eve received (y, h), plus metadata; never the key.

    Read it with numpy.load or commgan.security.archive.load_wiretap. Large N is generated in
    chunks, so memory stays bounded.
    """
    from commgan.comm.keys import load_key
    from commgan.comm.registry import file_label, parse_system_names, system_spec
    from commgan.security.export import check_disk, export_wiretap, parse_splits
    from commgan.systems import build_systems

    names = parse_system_names(system_name)
    if len(names) != 1:
        raise CommganError(f"--system {system_name!r}: export takes one system")
    name, channel, mod = names[0], channel.lower(), mod.lower()
    bits_per_symbol = check_frame_bits(frame_bits, mod)
    splits = parse_splits(split_spec, frames)
    out = Path(out_file or f"results/wiretap-{file_label(name)}-{file_label(channel)}-{mod}-"
                           f"{ebno:g}dB.npz")
    if out.suffix != ".npz":
        raise CommganError(f"--out {str(out)!r} must end in .npz")
    if out.is_dir():
        raise CommganError(f"--out {str(out)!r} is a folder; give a file name ending in .npz")
    check_out_dir(str(out.parent), "--out")
    check_disk(out, sum(splits.values()), frame_bits, frame_bits // bits_per_symbol)
    keyed = system_spec(name).keyed
    key, key_source = load_key(key_file) if (keyed or key_file) else (None, "none")
    run.check_device()
    run.check_backend()
    claim_output(out, file=True)
    built = build_systems([name], run.system_context(mod, channel, key))
    system = built[name]
    run.log(f"exporting {name} over {channel} with {mod} at {ebno:g} dB (Eve "
        f"{ebno + eve_ebno_offset:g} dB): " + ", ".join(f"{k} {v}" for k, v in splits.items())
        + f" frames of {frame_bits} bits" + (f" (key: {key_source})" if keyed else ""))
    if keyed and key_source == "random":
        run.log("note: a random key; pass --key to decode this archive as Bob later")
    export_wiretap(out, system, channel, ebno, frames, frame_bits, splits=splits, seed=run.seed,
                   eve_ebno_offset_db=eve_ebno_offset, key_source=key_source,
                   progress=run.progress, model_fingerprint=built.fingerprints().get(name),
                   **run.workers)
    click.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
