"""`nasiam compare`: train several heads under one paired protocol and compare them."""
from __future__ import annotations

import dataclasses
import sys

from nasiam.cli.common import EXIT_OK, add_config_options
from nasiam.config import PretrainConfig


def cmd_compare(args) -> int:
    from nasiam.compare import compare
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


def add_parser(sub) -> None:
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
                       title="options of every pretraining run (as for nasiam pretrain). A search row gets those "
                             "nasiam search also has, except --epochs: a search keeps its own budget (nasiam "
                             "search's default, or search(--epochs=N))")
    # (a signal while its runs train is the driver's own RunInterrupted, which says which runs it stopped)
    compare.set_defaults(handler=cmd_compare, config_cls=PretrainConfig,
                         on_interrupt="interrupted; the runs that had finished are kept: run the same command again "
                                      "to continue (it runs only what is missing)")
