"""Accuracy-vs-epoch curves of several runs on one plot."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

from nasiam._io import atomic_write_bytes
from nasiam.errors import shown_path

# the formats a figure is written in, named by its file's suffix (matplotlib's, less those whose
# bytes `nasiam eval curves` could not recognise as a figure when it replaces one)
FIGURE_FORMATS = {"png": "png", "pdf": "pdf", "svg": "svg", "eps": "eps", "ps": "ps", "jpg": "jpeg", "jpeg": "jpeg"}


def figure_format(path: str | Path, option: str | None = None) -> str:
    """The format `path`'s suffix names (`.pdf`: pdf); a suffix naming none, or none at all, is
    refused naming the ones written: a PNG was written under every name (#33 probe 19, Q9)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FIGURE_FORMATS:
        return FIGURE_FORMATS[suffix]
    named = f"{option} {shown_path(path)}" if option else shown_path(path)
    suffixes = ", ".join("." + s for s in FIGURE_FORMATS)
    problem = "its suffix names no format a figure is written in" if suffix else "it has no suffix"
    raise ValueError(f"{named}: {problem}; end the file name in one of {suffixes} (the format it is written in)")


def plot_curves(curves: Mapping[str, Sequence[tuple[float, float]]], path: str | Path, ylabel: str = "kNN top-1 (%)",
                title: str | None = None) -> Path:
    """`curves[label] = [(epoch, value), ...]`; a shaded band where a label has several runs
    per epoch (seeds): mean line, min-max band. Written in the format `path`'s suffix names."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend choice in library code

    fmt = figure_format(path)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    lines = []
    for points in curves.values():
        by_epoch: dict[float, list[float]] = {}
        for epoch, value in points:
            by_epoch.setdefault(epoch, []).append(value)
        epochs = sorted(by_epoch)
        means = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
        line, = ax.plot(epochs, means, marker="o", markersize=3)
        lines.append(line)
        if any(len(by_epoch[e]) > 1 for e in epochs):
            ax.fill_between(epochs, [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs],
                            color=line.get_color(), alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    # labels are text, shown as written (#33 probe 19, Q8): given with their lines, a label starting
    # with "_" is kept (matplotlib hides those it collects itself), and not parsed as math, a "$"
    # pair was typeset as a formula and "a$\frac$b" stopped the plot with mathtext's parse error
    legend = ax.legend(lines, list(curves), fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
