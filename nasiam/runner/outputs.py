"""What a search leaves in its run directory, written atomically:

    genotype.json          every searched head's genotype (format nasiam.search)
    heads/<slot>/          each exported head: genotype.json + head.safetensors (searched weights)
    backbone.safetensors   the backbone's weights; backbone.json says how to rebuild it
                           (both: nasiam.backbones.save_backbone)
    alphas.csv, alphas.png probability of every option of every choice, per epoch
    config.yaml            the resolved configuration
    summary.json           final metrics, timings, genotypes in one line each, the versions
                           and device it ran on (`environment`) and the sha256 of the files
                           above (`files`)
    logs/metrics.csv       per-step, per-epoch and final (eval/*) metrics, a column each
    logs/tensorboard/      the same, the probabilities and alpha figures (--logger tensorboard)
    checkpoints/           last.ckpt and recent epoch=N.ckpt (resume, re-export)
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import atomic_write_bytes, atomic_write_text
from nasiam.rundir import run_file_digests


def alpha_rows(epoch: int, probabilities: Mapping[str, list[dict[str, dict[Any, float]]]]) -> list[dict[str, Any]]:
    rows = []
    for slot, layers in probabilities.items():
        for layer, choices in enumerate(layers):
            for choice, options in choices.items():
                for option, p in options.items():
                    rows.append({"epoch": epoch, "head": slot, "layer": layer, "choice": choice,
                                 "option": str(option), "probability": round(float(p), 6)})
    return rows


def write_alphas_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", "head", "layer", "choice", "option", "probability"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def alpha_figure(rows: list[dict[str, Any]]):
    """One panel per (head, layer, choice): each option's probability against the epoch; the
    options of a panel in their natural order (widths numerically: 128 before 1024)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend choice in library code

    panels: dict[tuple, dict[str, list[tuple[int, float]]]] = {}
    for r in rows:
        panels.setdefault((r["head"], r["layer"], r["choice"]), {}).setdefault(r["option"], []).append(
            (r["epoch"], r["probability"]))
    keys = sorted(panels, key=lambda k: (k[0], k[1], k[2]))
    cols = max(1, len({k[2] for k in keys}))
    n_rows = max(1, -(-len(keys) // cols))
    fig = Figure(figsize=(3.6 * cols, 2.6 * n_rows))
    axes = fig.subplots(n_rows, cols, squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    for ax, key in zip(axes.flat, keys):
        for option, points in sorted(panels[key].items(), key=lambda item: option_order(item[0])):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=2, label=option)
        ax.set_title(f"{key[0]} layer {key[1]}: {key[2]}", fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def option_order(option: Any) -> tuple:
    """Numbers (widths, also as text: "1024") before names, numbers by value, names A-Z."""
    try:
        return (0, float(option), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(option))


def figure_png(fig, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_alphas_png(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_bytes(path, figure_png(alpha_figure(rows)))


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_summary(run_dir: Path, summary: Mapping[str, Any]) -> None:
    """summary.json, written after every other output of the run: with the sha256 of the files
    read as the run's result (`rundir.run_file_digests`), so that one replaced later is told."""
    write_json(run_dir / "summary.json", {**summary, "files": run_file_digests(run_dir)})


def alpha_heatmap(layers: list[dict[str, dict[Any, float]]], title: str):
    """One heatmap per choice of a head: layers down, options across (in `option_order`),
    probability as colour and as text."""
    from matplotlib.figure import Figure

    choices = list(layers[0]) if layers else []
    fig = Figure(figsize=(2.6 * max(1, len(choices)), max(2.0, 0.9 + 0.45 * len(layers))))  # room for the labels
    axes = fig.subplots(1, max(1, len(choices)), squeeze=False)
    for ax, choice in zip(axes[0], choices):
        options = sorted(layers[0][choice], key=option_order)
        matrix = [[layer[choice][o] for o in options] for layer in layers]
        ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_title(choice, fontsize=9)
        ax.set_xticks(range(len(options)), [str(o) for o in options], rotation=60, fontsize=7)
        ax.set_yticks(range(len(layers)), [f"layer {i}" for i in range(len(layers))], fontsize=7)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                        color="black" if value > 0.5 else "white")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
