"""`nasiam eval`: kNN, linear probe and semi-supervised fine-tuning of a run's backbone (or of
a random initialisation), and accuracy curves of several runs."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import DataLoader, Subset

from nasiam._io import remove_abandoned
from nasiam._progress import logged_batches, progress
from nasiam.backbones import create_backbone, load_backbone
from nasiam.config import BOUNDS, check_output_path, check_outside_runs, nearest_folder
from nasiam.data import augment_recipe, class_balanced_subset, create_dataset, eval_transform, random_subset
from nasiam.data.transforms import view_transform
from nasiam.errors import CheckpointError, shown, shown_path
from nasiam.eval import extract_features, finetune, plot_curves
from nasiam.eval.knn import KNN_SETTINGS
from nasiam.eval.plots import figure_format
from nasiam.eval.protocol import evaluate_features
from nasiam.rundir import EXPORT_RECORD, run_config_dict
from nasiam.runner import outputs
from nasiam.runner.build import check_eval_splits, read_dataset_info

__all__ = ["evaluate", "curves"]

# what `nasiam eval curves` may write over: a figure (matplotlib's formats)
_FIGURE_SIGNATURES = (b"\x89PNG", b"%PDF", b"<?xml", b"<svg", b"%!PS", b"\xff\xd8")


_FINITE = (-sys.float_info.max, sys.float_info.max)


def _number_in(value: Any, low: float, high: float) -> bool:
    """`value` a number (not a bool) between `low` and `high`; NaN fails the comparisons."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _is_result(path: Path) -> bool:
    try:
        record = json.loads(path.read_bytes()[:1 << 20].decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(record, dict) and record.get("protocol") in ("knn", "linear", "finetune") and "top1" in record


def _is_figure(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8).startswith(_FIGURE_SIGNATURES)
    except OSError:
        return False


def _check_out(path: Path, ours, what: str) -> None:
    """`--out` is a new file, or `what` an earlier call wrote (replaced): any other file (a run's
    summary.json or config.yaml, its weights) would be lost to the result."""
    if path.is_symlink() or path.exists() and not (path.is_file() and ours(path)):
        kind = "a symbolic link" if path.is_symlink() else "a folder" if path.is_dir() else "a file that is not " + what
        raise ValueError(f"--out {shown_path(path)} is {kind}; `nasiam eval` writes a new file or replaces {what}, "
                         "nothing else. Choose another --out")


def _check_out_folder(path: Path) -> None:
    """A new `--out` under a folder nothing can be made in, refused now, naming --out and that
    folder: the write failed after the features were computed, exit 5 "check the permissions of
    --out_dir" (#33 probe 16, M11). An existing one (`_check_out`: an earlier result, replaced)
    was written there before."""
    if not os.path.lexists(path):
        nearest_folder("--out", path, made="file")   # the result file; no folder is made there (probe 18, P9)


def _setting(target: str, options: dict[str, Any]) -> dict[str, Any]:
    """Dataset and backbone settings: the run's config, overridden by explicit options."""
    base = {"dataset": "fashion_mnist", "data_root": None, "image_size": None, "backbone": "resnet10t",
            "cifar_stem": False, "seed": 0}
    if target != "random":
        config = run_config_dict(_run_directory(target))
        base.update({k: config.get(k, v) for k, v in base.items()})
    base.update({k: v for k, v in options.items() if v is not None})
    return base


def _run_directory(target: str) -> str:
    """`target`, refused where it is a file or an export: either was called "not a nasiam run
    directory" (a file "has no config.yaml"), as if an export were not nasiam's (#33 probe 16, M14)."""
    path = Path(target)
    if path.is_file():
        raise CheckpointError(f"{shown_path(target)} is a file; `nasiam eval` takes a run directory (of nasiam search "
                              "or pretrain: its config.yaml names the dataset) or 'random'")
    if not (path / "config.yaml").is_file() and (path / EXPORT_RECORD).is_file():
        raise CheckpointError(f"{shown_path(target)} is a `nasiam export`, which records no dataset settings; "
                              "`nasiam eval` takes a run directory: evaluate the run it was exported from "
                              f"(\"run\" in its {EXPORT_RECORD})")
    return target


def _check_setting(setting: dict[str, Any], options: dict[str, Any], target: str) -> None:
    """The crop size and seed within the training commands' bounds, before any allocation: an
    --image_size of 100000 tried to allocate 40 GB (exit 7), a seed past 2**64 failed inside torch
    naming nothing. A value from the run's config.yaml is named as such."""
    for name in ("image_size", "seed"):
        value, (low, high) = setting.get(name), BOUNDS[name]
        if value is None or not isinstance(value, bool) and isinstance(value, int) and low <= value <= high:
            continue
        where = f"--{name}" if options.get(name) is not None else f"{shown_path(target)}/config.yaml's {name}"
        raise ValueError(f"{where} must be an integer between {low:g} and {high:g} (as for nasiam search and "
                         f"pretrain), got {shown(value)}")


def _datasets(setting: dict[str, Any]):
    info = read_dataset_info(setting["dataset"], setting["data_root"], setting["image_size"])
    synthetic = {"image_size": info.image_size, "channels": info.channels, "size": 1024,
                 "seed": setting["seed"]} if setting["dataset"] == "synthetic" else {}
    return info, synthetic


def evaluate(protocol: str, target: str, *, label_fraction: float = 0.1, epochs: int | None = None,
             lr: float | None = None, batch_size: int = 256, num_workers: int = 2, k: int = 200,
             bank_subset: int | None = None, device: str | None = None, out: str | None = None,
             verbose: bool = True, **options) -> dict[str, Any]:
    """Evaluate the backbone of run directory `target` (or "random") with `protocol`
    ("knn", "linear", "finetune"); writes the result as JSON and returns it. `verbose`:
    progress bars on a terminal."""
    if protocol not in ("knn", "linear", "finetune"):
        raise ValueError(f"unknown protocol {protocol!r}; choose knn, linear or finetune")
    if protocol != "finetune" and (epochs is not None or lr is not None):
        raise ValueError(f"--epochs and --lr set the fine-tuning budget; `nasiam eval {protocol}` has none (the linear "
                         "probe is solved to convergence, its penalty chosen on held-out train features): drop them")
    if epochs is not None and not 1 <= epochs <= 10_000 or lr is not None and not 0 < lr <= 100 or not 1 <= k <= 10_000:
        raise ValueError(f"need --epochs in [1, 10000], --lr in (0, 100] and --k in [1, 10000] (got epochs={epochs}, "
                         f"lr={lr}, k={k})")
    if not 0 < label_fraction <= 1 or not 1 <= batch_size <= 65536 or not 0 <= num_workers <= 128 or \
            bank_subset is not None and bank_subset < 1:
        raise ValueError(f"need --label_fraction in (0, 1], --batch_size in [1, 65536], --num_workers in [0, 128] and "
                         f"--bank_subset >= 1 (got {label_fraction}, {batch_size}, {num_workers}, {bank_subset})")
    if protocol == "linear" and bank_subset == 1:   # refused after both splits' features (#33 probe 19, Q14)
        raise ValueError("--bank_subset 1: the linear probe needs at least 2 labelled training images (a share of "
                         "them is held out to choose its penalty); choose --bank_subset 2 or more")
    if protocol == "finetune" and batch_size < 2:   # torch's words, after the data was read (#33 probe 19, Q5)
        raise ValueError("--batch_size 1: fine-tuning trains the backbone's BatchNorm layers, which cannot normalise a "
                         "batch of one image; choose --batch_size 2 or more")
    try:   # before any work: a bad name raised torch's RuntimeError, a traceback
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError as e:
        raise ValueError(f"--device {device!r}: {str(e).splitlines()[0][:160]} (cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: this machine has no CUDA device; use --device cpu")
    if target != "random":   # a file or an export named first: the default --out beside it was (probe 18, P8)
        _run_directory(target)
    path = Path(out) if out else (Path(target) / "eval" / f"{protocol}{'' if protocol != 'finetune' else f'_{label_fraction:g}'}.json"
                                  if target != "random" else Path("runs") / f"eval-random-{protocol}.json")
    # never inside a run or an export, except this run's own eval/, where its results go; the
    # default path too: the run's eval/ may be a link into another run (#33 probe 8, E2)
    own_eval = Path(target) / "eval" if target != "random" else None
    if out:   # printed raw in the "written to" line otherwise
        check_output_path("--out", path, may_write_in=own_eval)
    else:
        check_outside_runs("the default --out", path, may_write_in=own_eval)
    _check_out(path, _is_result, "an earlier `nasiam eval` result")   # before the features: nothing computed in vain
    _check_out_folder(path)
    setting = _setting(target, options)
    _check_setting(setting, options, target)
    info, synthetic = _datasets(setting)
    transform = eval_transform(info)
    train = create_dataset(setting["dataset"], setting["data_root"], "train", transform=transform, **synthetic)
    test = create_dataset(setting["dataset"], setting["data_root"], info.eval_split, transform=transform, **synthetic)
    # the checks of search and pretrain, before any work: an image folder whose val split has
    # other class folders than train was scored against shifted labels, exit 0 (#33 probe 19, Q1)
    check_eval_splits(setting["dataset"], info, train, test)
    if target == "random":
        torch.manual_seed(setting["seed"])
        backbone = create_backbone(setting["backbone"], cifar_stem=setting["cifar_stem"], in_chans=info.channels)
    else:
        # the dataset's channels, as `pretrain --init` checks them: a 3-channel run evaluated on
        # fashion_mnist failed inside its first convolution, a traceback (#33 probe 16, M3)
        backbone = load_backbone(target, {"in_chans": info.channels})
    backbone.to(device)

    def loader(dataset, shuffle=False, bs=batch_size, drop_last=False):
        return DataLoader(dataset, batch_size=bs, shuffle=shuffle, num_workers=num_workers, drop_last=drop_last,
                          generator=torch.Generator().manual_seed(setting["seed"]))

    result: dict[str, Any] = {"protocol": protocol, "target": target, "dataset": setting["dataset"],
                              "backbone": setting["backbone"]}
    if protocol in ("knn", "linear"):
        if bank_subset:
            train = Subset(train, random_subset(len(train), bank_subset, setting["seed"]))
        say = (lambda line: print(line, flush=True)) if verbose else (lambda line: None)
        # the vote caps k at the bank's size; the result recorded the k asked (#33 probe 19, Q13)
        if protocol == "knn" and k > len(train):
            say(f"kNN: k={k} is more than the {len(train)} images of the memory bank: k={len(train)} used (every "
                "image votes), and recorded")
            k = len(train)

        def features(name, dataset):   # a bar on a terminal, lines every few seconds for logs
            batches = progress(None, verbose, f"{name} features", loader(dataset))
            return extract_features(backbone, logged_batches(batches, len(dataset), say, f"{name} features"), device)

        bank, queries = features("train", train), features("test", test)
        knn = ((k, 0.1),) + tuple(s for s in KNN_SETTINGS if s[0] != k)
        evaluation = evaluate_features(*bank, *queries, num_classes=info.num_classes, linear=protocol == "linear",
                                       knn_settings=knn, seed=setting["seed"], verbose=verbose, say=say)
        metrics = evaluation.metrics
        if protocol == "knn":
            result.update(k=k, top1=metrics[f"knn{k}_top1"], **metrics)
        else:
            result.update(top1=metrics["linear_top1"], **metrics)
        result.update(bank_images=len(bank[0]), test_images=len(queries[0]), eval_seconds=evaluation.seconds)
    else:
        targets = getattr(train, "targets", None)
        if targets is None:
            raise ValueError(f"{setting['dataset']} exposes no labels for fine-tuning")
        chosen = class_balanced_subset(targets, label_fraction, seed=setting["seed"])
        # light augmentation for the labelled images: crops and flips, no colour distortion
        augment = view_transform(augment_recipe("crop_flip", info))
        labelled = create_dataset(setting["dataset"], setting["data_root"], "train", transform=augment, **synthetic)
        if len(chosen) < 2:
            raise ValueError(f"--label_fraction {label_fraction:g} leaves {len(chosen)} labelled image of "
                             f"{setting['dataset']}'s train split; fine-tuning needs at least 2 (its BatchNorm layers "
                             "cannot normalise a batch of one): raise --label_fraction")
        bs = min(batch_size, max(8, len(chosen) // 4))
        # a last batch of one image would stop BatchNorm in train mode (#33 probe 19, Q5): dropped,
        # a different image each epoch as the order is shuffled (solo-learn drops every short batch)
        train_loader = loader(Subset(labelled, chosen), shuffle=True, bs=bs, drop_last=len(chosen) % bs == 1)
        tuned = finetune(backbone, train_loader, loader(test), info.num_classes, epochs=epochs or 30, lr=lr or 0.01,
                         device=device, seed=setting["seed"])
        result.update(label_fraction=label_fraction, labelled_images=tuned.labelled_images, top1=tuned.test_top1,
                      epochs=tuned.epochs)
    remove_abandoned(path.parent, path.name)   # what a killed earlier call left (its writer gone)
    outputs.write_json(path, result)
    result["written_to"] = str(path)
    return result


def curves(run_dirs: Sequence[str], out: str, labels: Sequence[str] | None = None, metric: str = "knn_top1") -> Path:
    """One plot of `metric` against the epoch for each run, in the format `out`'s suffix names.
    A run is labelled by its folder's path, as many of its last parts as tell the runs apart;
    runs given the same one of `labels` are drawn as their mean with a min-max band (seeds)."""
    if labels and len(labels) != len(run_dirs):
        raise ValueError(f"{len(labels)} labels for {len(run_dirs)} runs")
    check_output_path("--out", out)
    _check_out(Path(out), _is_figure, "a figure")
    _check_out_folder(Path(out))
    figure_format(out, "--out")
    series: dict[str, list[tuple[float, float]]] = {}
    for run_dir, label in zip(run_dirs, labels or _path_labels(run_dirs)):
        series.setdefault(label, []).extend(_curve(run_dir, metric))
    remove_abandoned(Path(out).parent, Path(out).name)
    return plot_curves(series, out, ylabel="kNN top-1 (%)" if metric == "knn_top1" else metric)


def _path_labels(run_dirs: Sequence[str]) -> list[str]:
    """Each run's path cut to as few of its last parts as tell it from the other runs (runs/a/best,
    runs/b/best and runs/c: a/best, b/best and c). Labelled by the folder's name alone, two runs
    sharing it were averaged as one curve, as if seeds of one setting (#33 probe 19, Q6)."""
    paths = set(Path(os.path.abspath(run_dir)).parts for run_dir in run_dirs)   # the same folder: one label

    def label(parts: tuple[str, ...]) -> str:
        last = next(n for n in range(1, len(parts) + 1)   # the whole path tells it apart at the latest
                    if sum(other[-n:] == parts[-n:] for other in paths) == 1)
        return str(Path(*parts[-last:]))
    return [label(Path(os.path.abspath(run_dir)).parts) for run_dir in run_dirs]


def _curve(run_dir: str, metric: str) -> list[tuple[float, float]]:
    """(epoch, `metric`) of each epoch of `run_dir`'s summary.json that logged it. A value nasiam
    cannot have written (infinite, 1e308, a score past 100) is refused naming the file: infinite
    points were dropped from the plot unsaid, 1e308 stopped it in numpy's words (#33 probe 19, Q10)."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no summary.json: not a finished nasiam run")
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:   # not UTF-8, not JSON
        raise CheckpointError(f"{path} (read) is damaged: not JSON ({type(e).__name__})") from None
    history = summary.get("epochs", []) if isinstance(summary, dict) else None
    if not isinstance(history, list):
        raise CheckpointError(f"{path} (read) is damaged: it holds no run summary (an object whose 'epochs' is "
                              "a list, one record per epoch)")
    bounds = {"epoch": BOUNDS["epochs"], metric: (0, 100) if metric.endswith("_top1") else _FINITE}
    points = []
    for record in history:
        if not isinstance(record, dict) or record.get(metric) is None:   # an epoch without it (--knn_every)
            continue
        for key, (low, high) in bounds.items():
            if not _number_in(record.get(key), low, high):
                raise CheckpointError(f"{path} (read) is damaged: {key} {shown(record.get(key))} in its epochs, not a "
                                      f"number between {low:g} and {high:g}")
        points.append((record["epoch"], record[metric]))
    if not points:
        raise CheckpointError(f"{run_dir} logged no {metric} per epoch (run it with --knn_every=1)")
    return points
