"""The `nasiam` command line.

    nasiam search                                  # quick CPU demo on Fashion-MNIST
    nasiam search --config recipes/cifar10_resnet18_METHOD.yaml --epochs=50   # a recipe per dataset and method
    nasiam export RUN_DIR --out my_heads --rank 2
    nasiam export RUN_DIR --out heads_128 --proj_output_dim 128   # for lightly's SimSiam example

Every option of a subcommand is a field of its configuration (nasiam.config); `--key=value`,
`--key value` and `--key-with-dashes` all work, so `wandb agent` can drive it.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import sys
import time
import typing
from typing import Any, Sequence

from nasiam._version import __version__
from nasiam.config import (
    BOUNDS,
    REMOVED_OPTIONS,
    REMOVED_SELECTION,
    ConfigError,
    SearchConfig,
    config_choices,
    config_to_yaml,
    field_types,
    load_config,
    require_package,
)
from nasiam.errors import shown_path

EXIT_OK, EXIT_USAGE, EXIT_COLLAPSE, EXIT_NONFINITE, EXIT_IO, EXIT_INTERRUPTED = 0, 2, 3, 4, 5, 130
EXIT_MEMORY = 7   # out of memory (nasiam.errors.OUT_OF_MEMORY_EXIT); 6 is compare's failed runs
# what a stopped or failed command has left, and where its output goes; a subcommand that differs
# sets its own (set_defaults) and run_handler says it
RESUMABLE = "continue with --resume (the last finished epoch is kept)"
KEPT = "files already written (checkpoints, earlier outputs) are intact"
EXPORT_KEPT = "nothing was written to --out (an export is written whole or not at all) and the run is untouched"


def _type_name(annotation) -> str:
    text = str(annotation).replace("typing.", "")
    for a, b in (("<class '", ""), ("'>", ""), (" | None", "")):
        text = text.replace(a, b)
    return text.upper()


def add_config_options(parser: argparse.ArgumentParser, cls, recipe: bool = True, exclude: Sequence[str] = (),
                       title: str = "options (also recipe keys)") -> None:
    """One option per config field; defaults and fixed choices shown, values parsed later by
    nasiam.config."""
    if recipe:
        parser.add_argument("--config", metavar="RECIPE.yaml", action="append",
                            help="read options from a recipe (recipes/*.yaml); may be given several times, later "
                                 "recipes override earlier ones and command-line options override them all")
    hints = field_types(cls)
    choices = config_choices(cls)
    group = parser.add_argument_group(title)
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        names = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        kind = typing.get_args(hints[f.name]) or (hints[f.name],)
        flag_like = bool in kind or "const" in f.metadata
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        text = f.metadata.get("help", "")
        if "(default:" not in text:  # help that already explains its default says it once
            text += f" (default: {shown})"
        if f.name in BOUNDS:   # the documented bound, checked before anything is allocated
            low, high = BOUNDS[f.name]
            text += f" [{low:g}..{high:g}]"
        metavar = "{" + ",".join(choices[f.name]) + "}" if f.name in choices else _type_name(hints[f.name])
        group.add_argument(*names, dest=f.name, default=argparse.SUPPRESS, metavar=metavar,
                           nargs="?" if flag_like else None, const=f.metadata.get("const", "true") if flag_like else None,
                           help=text)


def config_from_args(cls, args: argparse.Namespace):
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return load_config(cls, args.config, overrides)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def _scores(summary: dict[str, Any]) -> str:
    """The end-of-run evaluation in one phrase: linear probe first, then kNN."""
    parts = [f"{name} {summary[key]:.1f} %" for key, name in (("linear_top1", "linear probe"),
                                                               ("knn20_top1", "kNN k=20"), ("knn200_top1", "kNN k=200"))
             if summary.get(key) is not None]
    if not parts and summary.get("knn_top1") is not None:
        parts = [f"kNN top-1 {summary['knn_top1']:.1f} %"]
    return (", " + ", ".join(parts)) if parts else ""


def _print_search_result(summary: dict[str, Any], wall_seconds: float) -> None:
    run_dir = summary["run_dir"]
    print(f"\nSearch finished: {_duration(summary['train_seconds'])} of training, {_duration(wall_seconds)} in all"
          f"{_scores(summary)}.")
    fixed = summary.get("fixed_heads") or []
    for slot, g in summary["genotypes"].items():
        print(f"  {slot:9s} {g}" + ("  (fixed by --predictor, not searched)" if slot in fixed else ""))
    decisions = summary.get("decisions", [])
    if decisions and any("above_noise" in r for r in decisions):
        from nasiam.search.driver import noise_verdict

        above = [r for r in decisions if r.get("above_noise")]
        print(f"\n{len(above)} of {len(decisions)} decisions rose above the noise floor (what "
              f"{summary.get('arch_steps', '?')} architecture steps on pure-noise gradients reach 1 time in 20):")
        for r in above:
            print(f"  {r['head']} layer {r['layer']} {r['choice']}: {r['option']} p={r['probability']:.2f} "
                  f"(noise floor {r['noise_floor']:.2f})")
        if noise_verdict(decisions).mostly_noise:
            print("Note: about as many as noise alone would pass; the exported genotype is mostly the noise's "
                  "choice. Search longer (--epochs) or see summary.json 'decisions' for each one.")
    elif decisions and summary.get("near_uniform_decisions", 0):
        print(f"\nNote: {summary['near_uniform_decisions']} of {len(decisions)} decisions ended near uniform (best "
              "option below 1.5x the uniform probability): the logits barely moved.")
    print(f"\nOutputs in {run_dir}/")
    print("  genotype.json           the searched genotypes (JSON)")
    print("  heads/<slot>/           exported heads with their searched weights: NASHead.from_pretrained(dir)")
    print("  backbone.safetensors    the backbone trained during the search")
    print("  alphas.csv, alphas.png  how every choice evolved")
    print("  summary.json, logs/     metrics; checkpoints/ for --resume and `nasiam export`")


def _print_config(args, cfg) -> bool:
    """--print_config: the resolved configuration as a recipe (YAML), instead of running."""
    if getattr(args, "print_config", False):
        print(config_to_yaml(cfg), end="")
        return True
    return False


def _finished(args, summary: dict[str, Any]) -> None:
    """The run has written its summary.json: a Ctrl-C while its result is printed, the CLI
    returns or the interpreter shuts down stops nothing (it said "interrupted; continue with
    --resume", exit 130, over a finished run)."""
    from nasiam.runner.stop import interrupt_until

    interrupt_until(lambda: True, f"nasiam {args.command}: Ctrl-C came after the run had finished; its outputs in "
                                  f"{shown_path(summary.get('run_dir', ''))} are complete, nothing to stop")


def cmd_search(args) -> int:
    cfg = config_from_args(SearchConfig, args)
    if _print_config(args, cfg):
        return EXIT_OK
    from nasiam.runner.search import run_search

    started = time.perf_counter()
    summary = run_search(cfg)
    _finished(args, summary)
    if summary.get("global_rank", 0) == 0:
        _print_search_result(summary, time.perf_counter() - started)
    return EXIT_OK


def cmd_pretrain(args) -> int:
    from nasiam.config import PretrainConfig

    cfg = config_from_args(PretrainConfig, args)
    if _print_config(args, cfg):
        return EXIT_OK
    from nasiam.runner.pretrain import run_pretrain

    started = time.perf_counter()
    summary = run_pretrain(cfg)
    _finished(args, summary)
    if summary.get("global_rank", 0) == 0:
        print(f"\nPretraining finished: {_duration(summary['train_seconds'])} of training, "
              f"{_duration(time.perf_counter() - started)} in all{_scores(summary)}.")
        for slot, head in summary["heads"].items():
            print(f"  {slot:9s} {head}")
        print(f"Outputs in {summary['run_dir']}/ (backbone.safetensors, heads/, summary.json, logs/)")
    return EXIT_OK


def _as_usage_errors(handler):
    """Commands whose ValueErrors all come from their arguments report them as usage errors."""
    def wrapped(args) -> int:
        try:
            return handler(args)
        except (ValueError, KeyError) as e:
            raise ConfigError.from_error(e) from None
    return wrapped


@_as_usage_errors
def cmd_eval(args) -> int:
    from nasiam.runner.evaluate import curves, evaluate

    if args.protocol == "curves":
        path = curves(args.targets, args.out or "curves.png", args.labels.split(",") if args.labels else None)
        print(f"wrote {path}")
        return EXIT_OK
    if len(args.targets) != 1:
        raise ValueError(f"`nasiam eval {args.protocol}` takes one run directory (or 'random')")
    options = {k: getattr(args, k) for k in ("dataset", "data_root", "image_size", "backbone", "cifar_stem", "seed")}
    result = evaluate(args.protocol, args.targets[0], label_fraction=args.label_fraction, epochs=args.epochs,
                      lr=args.lr, batch_size=args.batch_size, num_workers=args.num_workers, k=args.k,
                      bank_subset=args.bank_subset, device=args.device, out=args.out, **options)
    extra = f" with {result['labelled_images']} labelled images" if "labelled_images" in result else ""
    print(f"{args.protocol} top-1 {result['top1']:.2f} %{extra} ({result['target']}); written to {result['written_to']}")
    return EXIT_OK


@_as_usage_errors
def cmd_sweep(args) -> int:
    require_package("nasiam sweep runs the sweep with Optuna", ("optuna",), "optuna", "run it with `wandb agent`")
    from nasiam.runner.sweep import format_value, run_sweep

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(SearchConfig) if hasattr(args, f.name)}
    result = run_sweep(args.config, args.trials, overrides, out_dir=args.sweep_dir, name=args.name,
                       seed=args.sweep_seed)
    best = result["best"]
    print(f"\n{result['finished']} trials finished, {result['pruned']} pruned; results in {result['directory']}/ "
          "(results.md, results.csv, history.png, optuna.db)")
    grid = result.get("grid")
    if grid and grid["unvisited"]:
        print(f"{grid['unvisited']} of the grid's {grid['points']} points left unvisited: run again with "
              f"--trials {grid['points']} (or without --trials) to visit them; the study continues where it stopped")
    if best:
        print(f"best: trial {best['trial']} with "
              + ", ".join(f"{k}={format_value(v)}" for k, v in best["params"].items()))
    if not result["finished"]:
        print(f"nasiam sweep: error: no trial finished (see the trials' logs in {result['directory']}/); the sweep "
              "found nothing", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_compare(args) -> int:
    from nasiam.compare import compare
    from nasiam.config import PretrainConfig
    from nasiam.errors import RunsFailedError

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig) if hasattr(args, f.name)}
    result = compare(args.heads, seeds=args.seeds, out=args.out, options=options, jobs=args.jobs,
                     threads=args.threads, report_only=args.report_only, reference=args.reference)
    print("\n" + result["markdown"])
    report = result["report"]
    if args.report_only:
        print(f"{len(report.skipped)} of {result['planned']} runs have finished; tables in {result['out']}/ "
              "(results.md, results.csv, results.json, comparison.png)")
        return EXIT_OK
    print(f"{len(report.finished)} runs finished now, {len(report.skipped)} were already done; tables in "
          f"{result['out']}/ (results.md, results.csv, results.json, comparison.png)")
    if report.failures:
        for failure in report.failures:
            how = f"(exit {failure.returncode}) {failure.log}" if failure.returncode is not None else ""
            print(f"  failed: {failure.name} {how}\n{failure.last_lines}", file=sys.stderr)
        raise RunsFailedError(f"{len(report.failures)} of {result['planned']} runs failed (above); the others are "
                              "reported. Fix the cause and run the same command again: it runs only what is missing (a collapsed "
                              "search is kept, so its rows stay failed on that seed)")
    return EXIT_OK


@_as_usage_errors
def cmd_export(args) -> int:
    import os

    from nasiam.runner.export import export_run, finished_export
    from nasiam.runner.stop import interrupt_until

    record = os.path.join(args.out, "export.json")
    ours = not os.path.lexists(record)   # not an earlier export's record
    # the export is whole once its folder is renamed into place, export.json in it: a Ctrl-C from
    # then on (while it prints, returns, or the interpreter shuts down) stops nothing, exit 0
    interrupt_until(lambda: ours and os.path.lexists(record),
                    f"nasiam export: Ctrl-C came after the export to {shown_path(args.out)} had finished; it is "
                    "complete (export.json lists its files), nothing to stop")
    try:
        result = export_run(args.run_dir, args.out, rank=args.rank, checkpoint=args.checkpoint,
                            proj_output_dim=args.proj_output_dim)
    except KeyboardInterrupt:   # raised elsewhere than by SIGINT's handler, after the folder was renamed into place
        if not (ours and finished_export(args.out)):
            raise
        print(f"\nnasiam export: the export to {shown_path(args.out)} had finished when Ctrl-C came; it is complete "
              "(export.json lists its files)", file=sys.stderr)
        return EXIT_OK
    _print_export(args, result)
    return EXIT_OK


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


@_as_usage_errors
def cmd_push(args) -> int:
    import warnings

    from nasiam.head.hub import check_repo_id
    from nasiam.rundir import push_run_to_hub

    check_repo_id(args.repo)  # before reading the run or importing huggingface_hub
    try:
        with warnings.catch_warnings(record=True) as notes:  # e.g. "it is private now": said below
            info = push_run_to_hub(args.run_dir, args.repo, private=args.private or None, revision=args.revision)
    except ImportError as e:
        raise ConfigError(str(e)) from None
    # a failed request is push_run_to_hub's RemoteError (exit 2), worded as NASHead.push_to_hub's
    for note in notes:
        print(f"nasiam push: {note.message}", file=sys.stderr)
    print(f"pushed the heads of {args.run_dir} to {args.repo}: {getattr(info, 'commit_url', info)}\n"
          f"load one with NASHead.from_pretrained(\"hf-hub:{args.repo}\", subfolder=\"projector\")")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasiam", description="Search, export and use siamese SSL heads.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    search = sub.add_parser("search", help="search a framework's projector/predictor heads (DARTS)",
                            description="Search the heads of an SSL framework. With no option: a quick demo on "
                                        "Fashion-MNIST sized for two CPU cores.")
    search.add_argument("--print_config", "--print-config", action="store_true",
                        help="print the resolved configuration (defaults < recipes < options) as YAML and exit")
    add_config_options(search, SearchConfig)
    search.set_defaults(handler=cmd_search, config_cls=SearchConfig)
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
    push = sub.add_parser("push", help="upload a run's heads to the Hugging Face Hub, one subfolder each",
                          description="Upload RUN_DIR/heads/<slot> (each with a config.json) and a model card to "
                                      "a Hub model repo in one commit. Log in first (hf auth login or HF_TOKEN).")
    push.add_argument("run_dir", help="a run directory with heads/ (nasiam search, export or pretrain)")
    push.add_argument("--repo", required=True, metavar="USER/NAME", help="Hub model repo (created if missing)")
    push.add_argument("--private", action="store_true", help="create the repo private (an existing repo is unchanged)")
    push.add_argument("--revision", default=None, help="branch to push to (created if missing; default: main)")
    push.set_defaults(handler=cmd_push, config_cls=None)
    from nasiam.config import PretrainConfig

    pretrain = sub.add_parser("pretrain", help="SSL pretraining with a searched or standard head",
                              description="Standard SSL pretraining with a fixed-architecture head: --head default, "
                                          "--head RUN_DIR|genotype.json (from scratch) or --init RUN_DIR (continue "
                                          "from the search's weights).")
    pretrain.add_argument("--print_config", "--print-config", action="store_true",
                          help="print the resolved configuration (defaults < recipes < options) as YAML and exit")
    add_config_options(pretrain, PretrainConfig)
    pretrain.set_defaults(handler=cmd_pretrain, config_cls=PretrainConfig)
    from nasiam.compare.plan import FORBIDDEN_COMMON

    compare = sub.add_parser(
        "compare", help="train several heads under one paired protocol and compare them (kNN, linear, RankMe)",
        description="A head bake-off: every head is trained by `nasiam pretrain` with the same options on each "
                    "seed (a seed fixes the data subset, init and augmentations), searches by `nasiam search` on "
                    "the same seed. Re-running the same command continues where it stopped. Heads: default, "
                    "paper, directpred (closed-form), linpred (a trained linear predictor), lightly, solo-learn, "
                    "random:N, random:N/seed, search, search(--key=value ...), search:argmax, search+init, a search "
                    "run directory or genotype.json, "
                    "LABEL=SPEC; comma-separated.")
    compare.add_argument("--heads", required=True, help="comma-separated head specs (see above)")
    compare.add_argument("--seeds", default="5",
                         help="a count (5: seeds 0-4) or a list (0,3,7; one seed: 7,) (default: 5)")
    compare.add_argument("--jobs", type=int, default=1, help="runs at a time (default: 1)")
    compare.add_argument("--threads", type=int, default=None, help="CPU threads per run (default: cores / jobs)")
    compare.add_argument("--out", default="runs/compare", help="comparison directory (default: runs/compare)")
    compare.add_argument("--reference", default=None, metavar="LABEL",
                         help="the head every other one is paired with in the tables (default: default, where "
                              "--heads has it; e.g. directpred to see what a search adds to it)")
    compare.add_argument("--report_only", "--report-only", action="store_true",
                         help="train nothing: the tables of the runs finished so far (a status, e.g. while another "
                              "process runs the comparison; a protocol declared in advance is read when it is complete)")
    add_config_options(compare, PretrainConfig, recipe=False, exclude=FORBIDDEN_COMMON,
                       title="options of every run (as for nasiam pretrain; searches get those they share)")
    compare.set_defaults(handler=cmd_compare, config_cls=PretrainConfig)
    evaluate = sub.add_parser("eval", help="kNN, linear probe, semi-supervised fine-tuning, curves",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                              description="Evaluate a run's backbone (or 'random' init), or plot curves of runs.")
    evaluate.add_argument("protocol", choices=["knn", "linear", "finetune", "curves"])
    evaluate.add_argument("targets", nargs="+", help="run directories ('random' for a random initialisation)")
    evaluate.add_argument("--label_fraction", "--label-fraction", type=float, default=0.1,
                          help="finetune: share of the labels, class-balanced and seeded")
    evaluate.add_argument("--epochs", type=int, default=None, help="finetune: 30 (linear is solved to convergence)")
    evaluate.add_argument("--lr", type=float, default=None, help="finetune: 0.01 (SGD)")
    evaluate.add_argument("--batch_size", "--batch-size", type=int, default=256, help="batch size")
    evaluate.add_argument("--num_workers", "--num-workers", type=int, default=2, help="DataLoader workers")
    evaluate.add_argument("--k", type=int, default=200, help="kNN neighbours of `top1` (T=0.1); k=20 (T=0.07) and k=200 (T=0.1) are always reported")
    evaluate.add_argument("--bank_subset", "--bank-subset", type=int, default=None,
                          help="knn/linear: labelled training images used (default: all)")
    evaluate.add_argument("--dataset", default=None, help="default: the run's")
    evaluate.add_argument("--data_root", "--data-root", default=None, help="default: the run's")
    evaluate.add_argument("--image_size", "--image-size", type=int, default=None, help="default: the run's")
    evaluate.add_argument("--backbone", default=None, help="for 'random': timm model (default: resnet10t)")
    evaluate.add_argument("--cifar_stem", "--cifar-stem", type=lambda v: v.lower() in ("1", "true", "yes"),
                          default=None, help="for 'random': CIFAR stem")
    evaluate.add_argument("--seed", type=int, default=None, help="label subset, init and shuffling seed")
    evaluate.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    evaluate.add_argument("--out", default=None, help="result file (default: RUN_DIR/eval/<protocol>.json; "
                                                      "curves: curves.png)")
    evaluate.add_argument("--labels", default=None, help="curves: comma-separated legend labels, one per run")
    evaluate.set_defaults(handler=cmd_eval, config_cls=None)
    sweep = sub.add_parser("sweep", help="run a sweep file locally with Optuna (its method and hyperband "
                                         "early_terminate; SQLite, resumable)",
                           description="Run recipes/sweeps/*.yaml (W&B sweep files) locally as an Optuna study "
                                       "stored in SQLite (re-running continues it). The file's method is honoured: "
                                       "grid enumerates its values (GridSampler), random draws (RandomSampler), "
                                       "bayes is TPE. early_terminate: {type: hyperband, min_iter or max_iter "
                                       "and s, eta} stops trials not in the top 1/eta at W&B's hyperband epochs "
                                       "(SuccessiveHalvingPruner); without it every trial runs to the end. Other "
                                       "options are passed to every trial.")
    sweep.add_argument("--config", required=True, metavar="SWEEP.yaml", help="a sweep file (recipes/sweeps/)")
    sweep.add_argument("--trials", type=int, default=None,
                       help="finished trials to reach (default: the grid's size for method: grid, else 10; "
                            "a grid caps it at its size)")
    sweep.add_argument("--sweep_dir", "--sweep-dir", default="runs/sweeps", help="where sweeps live (default: runs/sweeps)")
    sweep.add_argument("--name", default=None, help="study name (default: the sweep file's name)")
    sweep.add_argument("--sweep_seed", "--sweep-seed", type=int, default=0,
                       help="seed of the grid's order, the random draws and TPE (default: 0)")
    group = sweep.add_argument_group("options passed to every trial")
    for f in dataclasses.fields(SearchConfig):
        names = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        if f.name != "config":
            group.add_argument(*names, dest=f.name, default=argparse.SUPPRESS, nargs="?", const="true",
                               help=argparse.SUPPRESS)
    sweep.set_defaults(handler=cmd_sweep, config_cls=SearchConfig)
    return parser


def _unknown_options(parser, args, unknown: Sequence[str]) -> str:
    import difflib
    import re

    cls = getattr(args, "config_cls", None)
    known = [f.name for f in dataclasses.fields(cls)] if cls else []
    options, stray, expects_value = [], [], False
    for item in unknown:
        if item.startswith("-") and not re.fullmatch(r"-\.?\d[\d.e+-]*", item):  # '-1' is a value
            key = item.lstrip("-").split("=")[0].replace("-", "_")
            close = difflib.get_close_matches(key, known, n=1)
            if cls is SearchConfig and key in REMOVED_OPTIONS:
                options.append(f"{item.split('=')[0]} ({REMOVED_SELECTION})")
            else:
                options.append(item.split("=")[0] + (f" (did you mean --{close[0]}?)" if close else ""))
            expects_value = "=" not in item
        elif expects_value:  # `--bogus 1`: argparse leaves the value beside the option; it is not one
            expects_value = False
        else:
            stray.append(item)
    problems = ([f"unknown option(s): {', '.join(options)}"] if options else []) + (
        [f"unexpected argument(s): {', '.join(stray)}"] if stray else [])
    return "; ".join(problems) + f" (see nasiam {args.command} --help)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if unknown:
        print(f"nasiam {args.command}: error: {_unknown_options(parser, args, unknown)}", file=sys.stderr)
        return EXIT_USAGE
    return run_handler(args)


def describe_os_error(e: OSError, kept: str = KEPT, out_option: str = "--out_dir") -> tuple[int, str]:
    """(exit code, message) of an OSError: a problem with the output's disk is 5 and says
    what was being written and what is `kept`; an input that cannot be read (a permission, a
    damaged image, a path too long) is 2 and says what was being read. The file's contents are
    never shown."""
    import os

    path = e.filename if isinstance(e.filename, str) else None
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
        what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exhausted",
                errno.EROFS: "the file system is read-only"}.get(e.errno, e.strerror or str(e))
        return EXIT_IO, f"{what} while writing {path or 'outputs'}; {kept}. Free space or choose another {out_option}"
    if e.errno == errno.ENAMETOOLONG:
        return EXIT_USAGE, (f"the path {(path or '')[:120]}... is too long for this file system; shorten --run_name, "
                            f"{out_option} or the file's name")
    if path and os.path.exists(path) and not os.path.isdir(path) and not os.access(path, os.R_OK):
        return EXIT_USAGE, f"cannot read {path} ({e.strerror}); check its permissions"
    if path and e.errno in (errno.EACCES, errno.EPERM):
        return EXIT_IO, (f"{e.strerror} while writing {path}; {kept}. Check the permissions of {out_option} or "
                         "choose another")
    if e.errno is None:   # raised by a reader library (a truncated image, a damaged archive)
        if path and e.strerror:
            return EXIT_USAGE, f"could not read {path}: {e.strerror}; replace or remove that file"
        return EXIT_USAGE, f"could not read the input data ({e}); a damaged file in the dataset?"
    return EXIT_IO, f"{e.strerror or e} on {path or 'a file of the run'}; {kept}"


def run_handler(args) -> int:
    from nasiam.data import DataNotFoundError
    from nasiam.errors import (
        CheckpointError,
        CollapseError,
        NonFiniteLossError,
        RunError,
        RunInterrupted,
        is_out_of_memory,
        out_of_memory_message,
    )
    from nasiam.integrations.plain import HeadMismatchError
    from nasiam.space import GenotypeError

    prefix = f"nasiam {args.command}: error:"
    try:
        return args.handler(args)
    except (ConfigError, DataNotFoundError, GenotypeError, CheckpointError, FileNotFoundError) as e:
        print(f"{prefix} {e}", file=sys.stderr)
        return EXIT_USAGE
    except CollapseError as e:
        print(f"{prefix} {e}", file=sys.stderr)
        return EXIT_COLLAPSE
    except NonFiniteLossError as e:
        print(f"{prefix} {e}", file=sys.stderr)
        return EXIT_NONFINITE
    except RunInterrupted as e:  # SIGINT (130) or SIGTERM (143), after a resumable checkpoint
        print(f"\nnasiam {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except RunError as e:  # e.g. the run directory is in use by another run (2)
        print(f"{prefix} {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"\nnasiam {args.command}: {getattr(args, 'on_interrupt', 'interrupted; ' + RESUMABLE)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        code, message = describe_os_error(e, *getattr(args, "on_io_error", ()))
        print(f"{prefix} {message}", file=sys.stderr)
        return code
    except HeadMismatchError as e:
        print(f"{prefix} {e}", file=sys.stderr)
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as e:   # torch.OutOfMemoryError, an allocator's RuntimeError
        if not is_out_of_memory(e):
            raise
        print(f"{prefix} {out_of_memory_message(e, args.command, *getattr(args, 'on_io_error', ())[:1])}",
              file=sys.stderr)
        return EXIT_MEMORY


if __name__ == "__main__":
    sys.exit(main())
