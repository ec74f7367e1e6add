"""`nasiam export`: re-export a search run's heads."""
from __future__ import annotations

import sys
from typing import Any

from nasiam.cli.common import EXIT_OK, _as_usage_errors
from nasiam.errors import shown_path

EXPORT_KEPT = "nothing was written to --out (an export is written whole or not at all) and the run is untouched"


@_as_usage_errors
def cmd_export(args) -> int:
    import os

    from nasiam.runner.export import export_run, finished_export
    from nasiam.runner.stop import interrupt_until

    record = os.path.join(args.out, "export.json")
    ours = not os.path.lexists(record)   # not an earlier export's record

    def done() -> bool:
        return ours and os.path.lexists(record)

    # the export is whole once its folder is renamed into place, export.json in it: a Ctrl-C from
    # then on (while it prints, returns, or the interpreter shuts down) stops nothing, exit 0
    interrupt_until(done, _after_the_export(args, "Ctrl-C"))
    try:
        with _export_stop_signals(done, args):
            result = export_run(args.run_dir, args.out, rank=args.rank, checkpoint=args.checkpoint,
                                proj_output_dim=args.proj_output_dim)
    except KeyboardInterrupt:   # raised elsewhere than by SIGINT's handler, after the folder was renamed into place
        if not (ours and finished_export(args.out)):
            raise
        print(f"\nnasiam export: the export to {shown_path(args.out)} had finished when Ctrl-C came; it is complete "
              "(export.json lists its files)", file=sys.stderr)
        return EXIT_OK
    # from here on a failed report (stdout full, or gone) is no failed export: say so, not
    # "nothing was written to --out", whose advised rerun --out's export then refused (#33 probe 16, M10)
    args.on_io_error = (f"the export to {shown_path(args.out)} is complete (export.json lists its files); only this "
                        "report of it could not be printed", "--out")
    _print_export(args, result)
    return EXIT_OK


def _after_the_export(args, signal_name: str) -> str:
    return (f"nasiam export: {signal_name} came after the export to {shown_path(args.out)} had finished; it is "
            "complete (export.json lists its files), nothing to stop")


def _export_stop_signals(done, args):
    """SIGTERM, SIGHUP and SIGUSR1 stop an export as Ctrl-C does, by an exception, so that the hidden
    `.OUT.*.partial` folder is removed: their default action would kill the process mid-write,
    silently leaving that folder (the backbone's size) behind. A signal ignored on the way in
    (SIGHUP under `nohup`) stays ignored. `with` it: the previous handlers come back after, unless
    the export is `done()`: then, as for Ctrl-C, they stay for the rest of the process and only say
    so, where the default action killed a finished export silently, 143 (#33 probe 16, M14)."""
    import signal

    from nasiam.errors import RunInterrupted
    from nasiam.runner.stop import StopSignals

    class ExportStop(StopSignals):
        def _handle(self, signum, frame) -> None:
            if not done():
                raise RunInterrupted(f"stopped by {signal.Signals(signum).name}; {EXPORT_KEPT}: run it again", signum)
            try:
                print(f"\n{_after_the_export(args, signal.Signals(signum).name)}", file=sys.stderr, flush=True)
            except Exception:   # stderr closed or gone at shutdown: the exit status says it all
                pass

        def restore(self) -> None:
            if not done():
                super().restore()

    # SIGUSR1 too: a run stops on it (SLURM's warning ahead of the time limit), and its default
    # action would kill the export mid-write as SIGTERM's did
    wanted = (signal.SIGTERM, getattr(signal, "SIGHUP", None), getattr(signal, "SIGUSR1", None))
    return ExportStop(tuple(s for s in wanted if s is not None and signal.getsignal(s) != signal.SIG_IGN))


def _print_export(args, result: dict[str, Any]) -> None:
    print(f"exported epoch {result['epoch']}, rank {result['rank']} ({result['ranked_by']}) to "
          f"{shown_path(result['out'])}"
          + ("" if result["recalibrated"] else " (BatchNorm statistics not recalibrated: the training data was not "
                                                "found)") + ":")
    for slot, g in result["genotypes"].items():
        print(f"  {slot:9s} {g}")
    for slot, layers in result["layers"].items():  # --proj_output_dim: say which weights are the search's
        names = [f"{i}:{layer}" for i, layer in enumerate(result["genotypes"][slot].split(" > "))]
        kept = ", ".join(names[i] for i in layers["kept"]) or "none"
        fresh = ", ".join(names[i] for i in layers["fresh"]) or "none"
        print(f"  {slot:9s} searched weights kept in layers {kept}; resized, freshly initialised: {fresh}")
    if any(layers["fresh"] for layers in result["layers"].values()):
        print(f"Resized for a {args.proj_output_dim}-wide projector output: the freshly initialised layers (recorded "
              "in export.json and in each head's genotype.json as meta.fresh_layers) train with your model.")


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="re-export heads from a search run (top-k, another epoch)")
    export.add_argument("run_dir", help="a search run directory")
    export.add_argument("--out", required=True, help="a new output directory (an existing, non-empty one is refused)")
    export.add_argument("--rank", type=int, default=1,
                        help="1: the genotype the search exported; K: each head's (K-1)-th alternative by joint probability (default: 1)")
    export.add_argument("--checkpoint", default=None, help="checkpoint file (default: the run's last.ckpt; "
                                                           "checkpoints/epoch=N.ckpt for another epoch)")
    export.add_argument("--proj_output_dim", "--proj-output-dim", type=int, default=None, metavar="N",
                        help="re-export for a model whose projector outputs N features (lightly's SimSiam example "
                             "128, solo-learn's CIFAR SimSiam 2048): the searched hidden layers keep their widths "
                             "and weights, the projector's output layer and the predictor start fresh "
                             "(default: the searched width)")
    export.set_defaults(handler=cmd_export, config_cls=None, on_interrupt=f"interrupted; {EXPORT_KEPT}: run it again",
                        on_io_error=(EXPORT_KEPT, "--out"))
