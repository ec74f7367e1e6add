"""Where a step of the CPU demo's search goes (issue #35): the parts of one step of the default
`nasiam search` (SimSiam, resnet10t, Fashion-MNIST at 28 px, batch 256, the mlp space's
supernet heads), timed in interleaved rounds in one process (medians, ms):

  views per-sample   256 images' two views by the per-sample v2 transforms (the DataLoader
                     workers' job, here in the main process)
  views batched      the same by the batched CPU augmentation (--data_device=cpu)
  weight step        backbone + heads forward, backward and SGD (logits frozen)
  arch encode        the architecture batch's backbone forward, without gradients
  arch step          encode + the policy's 4 updates of the logits on cached features
  eval features      backbone features of 2,048 training images (the final evaluation's part)

then the final kNN (10,000 queries against a 60,000-image bank, random features) once.
Ratios are what to read on a shared machine: run it where nothing else runs for seconds.

    python benchmarks/demo_step_parts.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, Subset, default_collate

from nasiam.config import SearchConfig, load_config
from nasiam.eval.knn import KNN_SETTINGS, extract_features, knn_predict_settings
from nasiam.runner.build import build_eval_datasets, build_search_model, build_train_data, data_info, make_loader
from nasiam.runner.loop import tune_cpu_allocator
from nasiam.runner.optim import weight_groups, weight_optimizer
from nasiam.search import Architect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tune_cpu_allocator()
    torch.manual_seed(0)
    cfg = load_config(SearchConfig, None, {})
    info = data_info(cfg)
    model = build_search_model(cfg, info)
    data = build_train_data(cfg, info, bilevel=True, arch_fraction=0.5)
    batched_cfg = load_config(SearchConfig, None, {"data_device": "cpu"})
    batched = iter(make_loader(build_train_data(batched_cfg, info, bilevel=True).weight, batched_cfg, True, True))
    optimizer = weight_optimizer(cfg, weight_groups(model, model.fixed_predictor_lr, cfg.fix_pred_lr, cfg.pred_lr_mult))
    architect = Architect(model, cfg.policy(), order=1, unroll_lr=cfg.lr)
    generator = torch.Generator().manual_seed(0)

    def views():
        index = torch.randint(len(data.weight), (cfg.batch_size,), generator=generator).tolist()
        return default_collate([data.weight[i] for i in index])[0]

    weight_views, arch_views = views(), views()

    def weight_step():
        with architect.weights_step():
            model(weight_views)["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def encode():
        with torch.no_grad():
            model.encode(arch_views)

    bank, _ = build_eval_datasets(cfg, info)
    some = Subset(bank, range(2048))
    parts = {"views per-sample": views, "views batched": lambda: next(batched), "weight step": weight_step,
             "arch encode": encode, "arch step (encode + 4 updates)": lambda: architect.step(arch_views, progress=0.5),
             "eval features (2,048 images)": lambda: extract_features(
                 model.backbone, DataLoader(some, batch_size=cfg.batch_size), "cpu")}
    for _ in range(architect.driver.updates):   # fill the cached batches: every timed step takes 4 updates
        architect.step(arch_views, progress=0.5)
    for fn in parts.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(args.rounds):
        for name, fn in parts.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
    step = medians["weight step"] + medians["arch step (encode + 4 updates)"]
    print("| part | ms | share of a search step |\n|---|---|---|")
    for name, ms in medians.items():
        share = f"{ms / step:.0%}" if name in ("weight step", "arch encode", "arch step (encode + 4 updates)") else ""
        print(f"| {name} | {ms:,.0f} | {share} |")
    features = torch.nn.functional.normalize(torch.randn(70_000, 512, generator=generator), dim=1)
    start = time.perf_counter()
    knn_predict_settings(features[:60_000], torch.randint(10, (60_000,), generator=generator), features[60_000:], 10,
                         KNN_SETTINGS)
    print(f"\nkNN, 10,000 queries against 60,000 (k=20 and k=200): {time.perf_counter() - start:.1f} s; "
          f"{torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
