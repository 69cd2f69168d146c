"""The typer applications that command modules attach to.

Each `cli/<topic>.py` module decorates its commands onto one of these; `cli/__init__.py` imports
the modules so the commands exist. The CLI only parses arguments and calls library functions.
"""

import typer

app = typer.Typer(no_args_is_help=True, help="prismlm: sequence models beyond the Transformer.")
bench_app = typer.Typer(no_args_is_help=True, help="Speed and memory benchmarks.")
reproduce_app = typer.Typer(no_args_is_help=True, help="Re-measure a published claim.")

demo_app = typer.Typer(
    invoke_without_command=True,
    help="The main job (Prizma-Seq vs matched Transformer on MQAR); `demo two-axes` for PCS + knowledge.",
)

app.add_typer(bench_app, name="bench")
app.add_typer(demo_app, name="demo")
app.add_typer(reproduce_app, name="reproduce")


def parse_seeds(text: str | None) -> list[int] | None:
    """"0,1,2" -> [0, 1, 2]; empty -> None (each experiment's default seeds)."""
    if not text:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise typer.BadParameter(f"--seeds must be comma-separated integers, got {text!r}") from err
