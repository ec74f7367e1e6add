"""`nasiam eval`: evaluate a run's backbone, or plot the curves of runs."""
from __future__ import annotations

import sys

from nasiam.cli.common import EXIT_OK, _as_usage_errors
from nasiam.config import parse_value
from nasiam.errors import shell_argument

# a result is written whole, once computed: a stop before then leaves nothing of this call
# (the --resume advice of the training commands was given here: #33 probe 16, M16)
EVAL_INTERRUPTED = "interrupted before its result was written; nothing was written: run the same command again"


def legend_labels(text: str, runs: int) -> list[str]:
    """--labels as the legend's labels, one per run: each stripped, none empty (an empty one drew
    runs with no legend text, #33 probe 21, S17) and no two alike ("a, a" drew two legend entries
    both "a": which run is which? #33 probe 22, T10)."""
    labels = [label.strip() for label in text.split(",")]
    given = f"--labels {shell_argument(text)}"
    fix = "give one label per run, separated by commas, e.g. --labels seed0,seed1"
    empty = [n for n, label in enumerate(labels, start=1) if not label]
    if empty:
        raise ValueError(f"{given}: label {empty[0]} of {len(labels)} is empty; {fix}")
    twice = next((label for n, label in enumerate(labels) if label in labels[:n]), None)
    if twice is not None:
        raise ValueError(f"{given}: the label {twice!r} is given twice, so the legend could not tell its runs apart; "
                         "give each run its own label")
    if len(labels) != runs:
        raise ValueError(f"{given}: {_count(len(labels), 'label')} for {_count(runs, 'run')}; {fix}")
    return labels


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@_as_usage_errors
def cmd_eval(args) -> int:
    import os

    from nasiam.runner.evaluate import curves, evaluate

    if args.protocol == "curves":
        labels = legend_labels(args.labels, len(args.targets)) if args.labels else None
        path = curves(args.targets, args.out or "curves.png", labels)
        print(f"wrote {path}")
        return EXIT_OK
    if len(args.targets) != 1:
        raise ValueError(f"`nasiam eval {args.protocol}` takes one run directory (or 'random')")
    if args.targets[0] == "random" and os.path.isdir("random"):   # the word is read first: say which was meant
        print("nasiam eval: 'random' is a random initialisation; for the folder ./random, write ./random",
              file=sys.stderr)
    options = {k: getattr(args, k) for k in ("dataset", "data_root", "image_size", "backbone", "seed")}
    # the true/false words of every other option (`on` was read as false, `bogus` accepted: #33 probe 16, M4)
    options["cifar_stem"] = None if args.cifar_stem is None else parse_value("cifar_stem", args.cifar_stem, bool)
    result = evaluate(args.protocol, args.targets[0], label_fraction=args.label_fraction, epochs=args.epochs,
                      lr=args.lr, batch_size=args.batch_size, num_workers=args.num_workers, k=args.k,
                      bank_subset=args.bank_subset, device=args.device, out=args.out, **options)
    extra = f" with {result['labelled_images']} labelled images" if "labelled_images" in result else ""
    print(f"{args.protocol} top-1 {result['top1']:.2f} %{extra} ({result['target']}); written to {result['written_to']}")
    return EXIT_OK


def add_parser(sub) -> None:
    evaluate = sub.add_parser("eval", help="kNN, linear probe, semi-supervised fine-tuning, curves",
                              description="Evaluate a run's backbone (or 'random' init), or plot curves of runs.")
    evaluate.add_argument("protocol", choices=["knn", "linear", "finetune", "curves"])
    evaluate.add_argument("targets", nargs="+", help="run directories ('random' for a random initialisation)")
    evaluate.add_argument("--label_fraction", "--label-fraction", type=float, default=0.1,
                          help="finetune: share of the labels, class-balanced and seeded (default: 0.1)")
    evaluate.add_argument("--epochs", type=int, default=None,
                          help="finetune: epochs (default: 30; linear is solved to convergence)")
    evaluate.add_argument("--lr", type=float, default=None, help="finetune: SGD learning rate (default: 0.01)")
    evaluate.add_argument("--batch_size", "--batch-size", type=int, default=256, help="batch size (default: 256)")
    evaluate.add_argument("--num_workers", "--num-workers", type=int, default=2, help="DataLoader workers (default: 2)")
    evaluate.add_argument("--k", type=int, default=200, help="kNN neighbours of `top1` (T=0.1); k=20 (T=0.07) and "
                                                             "k=200 (T=0.1) are always reported (default: 200)")
    evaluate.add_argument("--bank_subset", "--bank-subset", type=int, default=None,
                          help="knn/linear: labelled training images used (default: all)")
    evaluate.add_argument("--dataset", default=None, help="the images evaluated on (default: the run's; for "
                                                             "'random': fashion_mnist)")
    evaluate.add_argument("--data_root", "--data-root", default=None, help="the dataset's folder (default: the run's)")
    evaluate.add_argument("--image_size", "--image-size", type=int, default=None,
                          help="crop size (default: the run's, or the dataset's)")
    evaluate.add_argument("--backbone", default=None, help="for 'random': timm model (default: resnet10t)")
    evaluate.add_argument("--cifar_stem", "--cifar-stem", nargs="?", const="true", default=None, metavar="BOOL",
                          help="for 'random': CIFAR stem, true or false (default: false)")
    evaluate.add_argument("--seed", type=int, default=None, help="label subset, init and shuffling seed "
                                                                 "(default: the run's, or 0)")
    evaluate.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    evaluate.add_argument("--out", default=None, help="result file (default: RUN_DIR/eval/<protocol>.json; "
                                                      "curves: curves.png; .pdf, .svg, .eps, .ps or .jpg for those formats)")
    evaluate.add_argument("--labels", default=None, help="curves: comma-separated legend labels, one per run; runs given the "
                          "same label are drawn as their mean with a min-max band, e.g. seeds (default: each run's "
                          "path, as many of its last folders as tell the runs apart)")
    evaluate.set_defaults(handler=cmd_eval, config_cls=None, on_interrupt=EVAL_INTERRUPTED)
