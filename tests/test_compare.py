"""`nasiam compare`: head specs, pairing, reproducible random heads, statistics, resume."""
import dataclasses
import io
import json
import math
import pathlib
import random
import re
import sys

import pytest
import torch
from _runs import TINY

from nasiam.cli import main
from nasiam.compare import compare, parse_seeds, prepare
from nasiam.compare.specs import parse_heads, split_specs
from nasiam.compare.stats import paired_difference, spearman, t_quantile_975
from nasiam.config import ConfigError

# options of every tiny run (pretrain options: no search-only keys)
RUN = {k.split("=")[0].lstrip("-"): k.split("=")[1] for k in TINY
       if not k.startswith(("--widths", "--warmup_epochs", "--arch_lr"))}


def finish(job, runs, summary, **config):
    """A finished run of `job` as nasiam leaves it: config.yaml with the job's options (and any
    `config` changed), summary.json."""
    import yaml

    run = runs / job.name
    run.mkdir(parents=True, exist_ok=True)
    options = dict(o[2:].split("=", 1) for o in job.options())
    (run / "config.yaml").write_text(yaml.safe_dump({**options, **config}))
    (run / "summary.json").write_text(json.dumps({"command": job.command, **summary}))
    return run


# -- specs -------------------------------------------------------------------------------
def test_specs_parse_labels_options_and_suffixes(tmp_path):
    genotype_dir = tmp_path / "mine"
    genotype_dir.mkdir()
    (genotype_dir / "genotype.json").write_text("{}")
    specs = parse_heads(f"default,paper,random:3/seed,search(--arch_lr=0.1 --widths=16,32):argmax,"
                        f"search+init,best={genotype_dir}")
    kinds = [(s.label, s.kind) for s in specs]
    assert kinds == [("default", "default"), ("paper", "paper"), ("random", "random"),
                     ("search(--arch_lr=0.1 --widths=16,32):argmax", "search"), ("search+init", "search"),
                     ("best", "path")]
    assert specs[2].count == 3 and specs[2].per_seed
    assert specs[3].search_options == ("--arch_lr=0.1", "--widths=16,32") and specs[3].argmax
    assert specs[4].init and specs[4].search_options == ()
    assert split_specs("a,search(--x=1,2),b") == ["a", "search(--x=1,2)", "b"]


@pytest.mark.parametrize("bad, words", [
    ("default,,paper", "empty head spec"),
    ("random:0", "use 1 to"),
    ("random5", "random:N"),
    ("search(--epochs=2", "unbalanced"),
    ("searchy", "not a search spec"),
    ("/no/such/run", "'/no/such/run' does not exist; pass a search run directory or a genotype.json"),
    ("/dev/null", "'/dev/null' is neither a search run directory .a folder holding genotype.json. nor a genotype"),
    ("default,default", "two rows are called"),
    # an invalid label is named as one, with what a label may be (was "neither a known head ...")
    ("a/b=default", "'a/b' is not a valid label; a label is 1 to 64 ASCII letters"),
    ("..=paper", "'..' is not a valid label"),
    ("=default", "'' is not a valid label"),
    ("d\u0435fault=default", "'d\u0435fault' is not a valid label"),   # a Cyrillic e
])
def test_bad_specs_name_the_problem(bad, words):
    with pytest.raises(ConfigError, match=words):
        parse_heads(bad)


def test_a_fixed_row_with_its_own_pretraining_options_is_the_equal_compute_row(tmp_path):
    """`default(--epochs=N)` (#32: "search, or train longer?"): the default head, trained with
    the extra options on every seed, beside the plain row; the options are checked before any
    run and the ones compare sets itself are refused."""
    specs = parse_heads("default,long=default(--epochs=3),directpred(--lr=0.1)")
    assert [(s.label, s.kind, s.pretrain_options) for s in specs] == [
        ("default", "default", ()), ("long", "default", ("--epochs=3",)),
        ("directpred(--lr=0.1)", "directpred", ("--lr=0.1",))]
    plan, _ = prepare("default,long=default(--epochs=3)", "0,1", tmp_path, RUN)
    epochs = {(job.row, job.seed): job.settings.get("epochs") for job in plan.jobs}
    assert {epochs[("long", s)] for s in (0, 1)} == {"3"}
    assert {epochs[("default", s)] for s in (0, 1)} == {RUN.get("epochs")}
    assert all(job.options()[-1].startswith("--head=") or "--head=default" in job.options() for job in plan.jobs)
    for bad, words in (("default(--epochs=0)", "'default\\(--epochs=0\\)': .*epochs"),
                       ("default,d1=default(--batch_size=1)", "'d1': --batch_size=1"),   # the row named
                       ("default(--seed=3)", "set by `nasiam compare`"), ("default(epochs=3)", "--key=value")):
        with pytest.raises(ConfigError, match=words):
            prepare(bad, 1, tmp_path / "bad", RUN)


def test_seeds_are_a_count_or_a_list():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,4,9") == [0, 4, 9]
    assert parse_seeds("7,") == [7]   # one given seed, not seeds 0-6
    with pytest.raises(ConfigError, match="0 seeds; a comparison runs 1 to"):
        parse_seeds("0")              # a count out of range says so, not "neither a count nor a list"
    for bad in ("0,0", "x", "-1,2", "", "1000000000", "0," + "9" * 5000, 10 ** 9, "4294967296,1"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)   # (a billion seeds was a 20 GB plan before any check)


@pytest.mark.parametrize("slot, out_dim, extra, words", [
    ("projector", 16, [], "its projector: the genotype outputs 16 features, the slot needs 32 under"),
    ("projector", 32, ["--proj_output_dim=64"], "the genotype outputs 32 features, the slot needs 64"),
    ("predictor", 32, ["--framework=simclr"], "holds a predictor head; simclr has projector"),
])
def test_a_heads_path_row_that_cannot_fit_the_runs_is_refused_before_any_run(tmp_path, capsys, slot, out_dim, extra,
                                                                             words):
    """A --heads PATH row whose head cannot fit the runs' widths was found only when that row's
    turn came, after the other rows had trained (#33, found by an independent probe). Now while
    planning: exit 2, nothing trained or written."""
    from nasiam.presets import get_preset
    from nasiam.rundir import write_search_genotypes

    mine = tmp_path / "mine.json"
    preset = "simsiam_projector_cifar" if slot == "projector" else "simsiam_predictor"
    genotype = get_preset(preset, hidden_dim=8, out_dim=out_dim)
    if slot == "projector":
        write_search_genotypes(mine, "simsiam", {slot: genotype})
    else:   # one head's file: no framework recorded, the slot in its meta
        mine.write_text(json.dumps(dataclasses.replace(genotype, meta={"slot": slot}).to_dict()))
    out = tmp_path / "cmp"
    options = [f"--{k}={v}" for k, v in RUN.items()] + extra
    assert main(["compare", "--heads", f"default,mine={mine}", "--seeds", "1", "--out", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert f"--heads mine: {mine}" in err and words in err, err
    assert not out.exists()


@pytest.mark.parametrize("argv, words", [
    (["--heads", "default,nonsense"], "neither a known head"),
    (["--heads", "search(--no_such_option=1)"], "no_such_option"),
    (["--heads", "search(--arch_lr=-1)"], "arch_lr"),
    (["--heads", "search:argmax+init"], "drop :argmax or \\+init"),
    (["--heads", "default", "--epochs=0"], "epochs"),
    (["--heads", "default", "--jobs", "0"], "jobs"),
    (["--heads", "default,random:1", "--reference", "directpred"],
     "--reference: 'directpred' is not one of the compared heads \\(default, random\\)"),
])
def test_cli_rejects_bad_input_with_exit_2_before_any_training(tmp_path, capsys, argv, words):
    out = tmp_path / "cmp"
    code = main(["compare", *argv, "--seeds", "2", "--out", str(out), "--dataset=synthetic"])
    assert code == 2
    err = capsys.readouterr().err
    assert "nasiam compare: error:" in err and __import__("re").search(words, err), err
    assert not (out / "runs").exists() and not (out / "logs").exists()   # nothing was trained


def test_options_compare_sets_itself_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="set by `nasiam compare`"):
        prepare("default", 1, tmp_path, {**RUN, "seed": "3"})


@pytest.mark.parametrize("heads", ["paper", "random:2"])
def test_an_unknown_backbone_is_refused_by_name_before_anything_is_written(tmp_path, heads):
    # found by the fuzz test (2026-12-07): timm's ValueError escaped, exit 1 with a traceback
    with pytest.raises(ConfigError, match="unknown backbone 'no_such_net'"):
        prepare(heads, 1, tmp_path / "cmp", {**RUN, "backbone": "no_such_net"})
    assert not (tmp_path / "cmp").exists()


# -- random heads and the plan ------------------------------------------------------------
def test_random_heads_are_reproducible_and_drawn_from_the_search_space(tmp_path):
    a, _ = prepare("random:4/seed,search(--widths=16,32)", "0,1", tmp_path / "a", RUN)
    b, _ = prepare("random:4/seed,search(--widths=16,32)", "0,1", tmp_path / "b", RUN)
    files_a = {k: json.loads(open(v).read()) for k, v in a.random_genotypes.items()}
    files_b = {k: json.loads(open(v).read()) for k, v in b.random_genotypes.items()}
    assert files_a == files_b and len(files_a) == 8   # 4 per seed, 2 seeds
    widths = {layer["width"] for g in files_a.values() for layer in g["heads"]["projector"]["layers"]
              if not layer.get("fixed")}
    assert widths <= {16, 32}                           # the search row's space, not the default one
    assert len({json.dumps(g["heads"]) for g in files_a.values()}) > 1   # not one head copied


def test_plan_pairs_every_row_of_a_seed(tmp_path):
    plan, _ = prepare("default,paper,random:1,search,search+init", "0,1", tmp_path, RUN)
    by_seed = {}
    for job in plan.jobs:
        options = dict(o[2:].split("=", 1) for o in job.options())
        assert options["seed"] == str(job.seed)
        shared = {k: v for k, v in options.items() if k not in ("seed", "run_name", "head", "init", "epochs")}
        by_seed.setdefault((job.seed, job.command), []).append(shared)
    for group in by_seed.values():
        assert all(g == group[0] for g in group)        # identical protocol within a seed
    searches = [j for j in plan.jobs if j.command == "search"]
    assert len(searches) == 2                           # one search per seed, shared by search and search+init
    init = next(j for j in plan.jobs if j.row == "search+init" and j.seed == 0)
    assert init.after == ("search1-s0",)
    # one-stage budget: the search trained the weights on half the images for 8 epochs
    assert "--epochs=" + str(int(RUN["epochs"]) - 4 if int(RUN["epochs"]) > 4 else 1) in init.options()


def test_library_heads_are_written_at_the_runs_dims(tmp_path, monkeypatch):
    """`lightly` and `solo-learn` rows: the libraries' heads at this run's widths, written
    once and trained like a genotype file; solo-learn is told the backbone."""
    import nasiam.presets as presets
    from nasiam.backbones import create_backbone, feature_dim
    from nasiam.frameworks import SimSiam
    from nasiam.rundir import read_genotypes

    seen = {}
    real = presets.LIBRARY_HEADS["solo-learn"]
    monkeypatch.setitem(presets.LIBRARY_HEADS, "solo-learn",
                        lambda *args, **kwargs: seen.update(kwargs) or real(*args, **kwargs))
    options = {**RUN, "proj_output_dim": "24"}        # hidden 32, out 24, pred 16: all different
    plan, out = prepare("default,lightly,solo=solo-learn", "0,1", tmp_path, options)
    in_dim = feature_dim(create_backbone(options.get("backbone", "resnet10t")))
    assert seen == {"backbone": options.get("backbone", "resnet10t")}
    for library, build in (("lightly", presets.lightly_heads), ("solo-learn", real)):
        framework, genotypes = read_genotypes(out / "heads" / library / "genotype.json")
        assert framework == "simsiam"
        assert genotypes == build("simsiam", in_dim, 32, 24, 16)
        assert [layer.width for layer in genotypes["projector"].layers] == [32, 32, 24]   # 3 layers, --proj_layers=2
        assert [layer.width for layer in genotypes["predictor"].layers] == [16, 24]
        assert (genotypes["projector"].in_dim, genotypes["predictor"].in_dim) == (in_dim, 24)
        SimSiam(torch.nn.Identity(), in_dim, heads=genotypes, proj_hidden_dim=32, proj_output_dim=24,
                pred_hidden_dim=16)                 # fits the run's slots
    assert [(s.label, s.kind) for s in plan.rows] == [("default", "default"), ("lightly", "lightly"),
                                                      ("solo", "solo-learn")]
    heads = {(j.row, j.seed): dict(o[2:].split("=", 1) for o in j.options())["head"] for j in plan.jobs}
    assert heads == {**{("default", s): "default" for s in (0, 1)},
                     **{("lightly", s): str(out / "heads" / "lightly" / "genotype.json") for s in (0, 1)},
                     **{("solo", s): str(out / "heads" / "solo-learn" / "genotype.json") for s in (0, 1)}}


def test_library_heads_a_framework_lacks_exit_2_before_training(tmp_path, capsys):
    """lightly has no MoCo v3 heads (solo-learn has heads for every nasiam framework)."""
    words = "'lightly': lightly .* has no MoCo v3 heads"
    with pytest.raises(ConfigError, match=words):
        prepare("default,lightly", 1, tmp_path / "api", {**RUN, "framework": "mocov3"})
    assert not (tmp_path / "api" / "heads" / "lightly").exists()
    out = tmp_path / "cli"
    code = main(["compare", "--heads", "lightly", "--seeds", "1", "--out", str(out), "--dataset=synthetic",
                 "--framework=mocov3"])
    assert code == 2 and __import__("re").search(words, capsys.readouterr().err)
    assert not (out / "runs").exists() and not (out / "logs").exists()


def test_a_directory_holding_another_protocol_is_refused(tmp_path):
    prepare("default", 1, tmp_path, RUN)
    with pytest.raises(ConfigError, match="not paired"):
        prepare("default", 1, tmp_path, {**RUN, "lr": "0.5"})


def test_stored_options_are_compared_by_value_and_the_differences_named(tmp_path):
    """compare.json's options were compared as strings: `--epochs 01` after `--epochs 1` was
    refused as "other run options", naming none (#33, found by an independent probe). Values
    are now compared as a run reads them, and the options that differ are named."""
    prepare("default", 1, tmp_path, {**RUN, "epochs": "1", "lr": "0.05"})
    prepare("default", 1, tmp_path, {**RUN, "epochs": "01", "lr": "5e-2"})   # the same runs
    with pytest.raises(ConfigError) as error:
        prepare("default", 1, tmp_path, {**RUN, "epochs": "2", "lr": "0.05"})
    message = str(error.value)
    assert "--epochs was '01', now '2'" in message and "--lr" not in message, message


# -- statistics ------------------------------------------------------------------------------
def test_paired_difference_against_a_hand_computed_example():
    head, ref = {0: 71.0, 1: 72.0, 2: 73.0}, {0: 70.0, 1: 70.0, 2: 70.0}
    d = paired_difference(head, ref)
    # differences 1, 2, 3: mean 2, sd 1, t_{0.975,2} = 4.303 -> 2 -/+ 4.303 / sqrt(3)
    assert d.n == 3 and d.mean == pytest.approx(2.0) and d.std == pytest.approx(1.0)
    assert d.ci_low == pytest.approx(2 - 4.303 / math.sqrt(3)) and d.ci_high == pytest.approx(2 + 4.303 / math.sqrt(3))
    assert d.wins == 3 and d.t == pytest.approx(2 * math.sqrt(3)) and d.ci_low < 0   # not significant
    assert paired_difference({0: 1.0, 5: 2.0}, {5: 1.0}).n == 1   # only common seeds pair
    assert paired_difference({0: 1.0}, {1: 1.0}) is None


def test_a_tie_is_not_a_win():
    """`wins` and "better on k/n" count the seeds where the head is strictly better."""
    d = paired_difference({0: 70.0, 1: 72.0, 2: 69.0, 3: 70.5}, {0: 70.0, 1: 71.0, 2: 70.0, 3: 70.5})
    assert d.wins == 1 and d.n == 4 and "better on 1/4" in d.describe()
    same = paired_difference({0: 70.0, 1: 71.0}, {0: 70.0, 1: 71.0})  # every seed tied
    assert same.wins == 0 and same.t == 0.0 and same.ci_low == same.ci_high == 0.0
    assert "better on 0/2" in same.describe()
    assert paired_difference({0: 70.0}, {0: 70.0}).wins == 0  # one seed, no interval: still no win


def test_t_quantiles_and_spearman():
    scipy = pytest.importorskip("scipy.stats", reason="scipy checks the tabulated quantiles when installed")
    for df in (1, 2, 4, 10, 30, 31, 60, 200):
        assert t_quantile_975(df) == pytest.approx(scipy.t.ppf(0.975, df), abs=2e-3)


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share ranks: x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4) -> rho = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert spearman([1, 1, 1], [1, 2, 3]) is None


# -- end to end ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_compare_runs_resumes_and_reports(tmp_path):
    options = {**RUN, "epochs": "1", "knn_every": "0", "linear_probe": "true"}
    lines = []
    first = compare("default,directpred,random:1", seeds="0,1", out=tmp_path, options=options, jobs=2,
                    say=lines.append)
    assert not first["report"].failures and len(first["report"].finished) == 6
    table = (tmp_path / "results.md").read_text()
    for row in ("| default |", "| directpred |", "| random |", "Spearman"):
        assert row in table
    records = first["records"]
    assert {(r.row, r.seed) for r in records} == {(h, s) for h in ("default", "directpred", "random") for s in (0, 1)}
    assert all(r.knn_top1 is not None and r.linear_top1 is not None and r.rankme and r.rankme >= 1 for r in records)
    csv_rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 7 and csv_rows[0].startswith("row,head_id,seed")
    assert (tmp_path / "comparison.png").stat().st_size > 1000
    # a run "killed" after its last checkpoint, before its summary: only it runs again, resumed
    victim = tmp_path / "runs" / "directpred-s1"
    (victim / "summary.json").unlink()
    second = compare("default,directpred,random:1", seeds="0,1", out=tmp_path, options=options, jobs=1,
                     say=lines.append)
    assert second["report"].finished == ["directpred-s1"] and len(second["report"].skipped) == 5
    assert "--resume" in (tmp_path / "logs" / "directpred-s1.log").read_text()
    assert [r.knn_top1 for r in second["records"]] == [r.knn_top1 for r in records]


@pytest.mark.parametrize("rows, search_runs_again", [("default,search:argmax", False), ("search:argmax,search+init", True)])
def test_an_archived_search_without_weights_runs_again_only_for_rows_that_continue_from_them(
        tmp_path, rows, search_runs_again):
    """An archive of the small files (summary, genotype; benchmarks/ceiling.py keeps one)
    is enough for a row that trains the searched head afresh; a one-stage (+init) row needs
    the search's weights, so the search runs again."""
    from nasiam.compare.run_folders import pending_jobs

    plan, out = prepare(rows, seeds=[0], out=tmp_path, options=RUN)
    search = next(job.name for job in plan.jobs if job.command == "search")
    (out / "runs" / search).mkdir(parents=True)
    (out / "runs" / search / "summary.json").write_text("{}")
    (out / "runs" / search / "genotype.json").write_text("{}")
    pending, skipped = pending_jobs(plan.jobs, out / "runs")
    assert (search in skipped) is not search_runs_again
    assert (search in [job.name for job in pending]) is search_runs_again
    assert all(job.command == "pretrain" for job in pending if job.name != search)


@pytest.mark.slow
def test_rows_of_one_seed_see_the_same_batches(tmp_path, monkeypatch):
    """Pairing inside the runner: the data stream is re-seeded after the model is built, so
    heads that draw different numbers of random values at init still see the same views."""
    from nasiam.config import PretrainConfig, load_config
    from nasiam.runner.pretrain import PretrainRun

    seen = {}

    def first_views(head, seed):
        cfg = load_config(PretrainConfig, None, {**RUN, "epochs": "1", "seed": str(seed), "head": head,
                                                 "out_dir": str(tmp_path), "run_name": f"{seed}-{len(seen)}",
                                                 "knn_every": "0", "linear_probe": "false"})
        captured = []
        original = PretrainRun.prepare

        def spy(self, views):
            if not captured:
                captured.append(torch.stack([v.float().sum() for v in views]))
            return original(self, views)

        monkeypatch.setattr(PretrainRun, "prepare", spy)
        PretrainRun(cfg, verbose=False).execute()
        return captured[0]

    paper = tmp_path / "paper"
    prepare("paper", 1, paper, RUN)
    seen["default"] = first_views("default", 0)
    seen["paper"] = first_views(str(paper / "heads" / "paper" / "genotype.json"), 0)
    seen["other seed"] = first_views("default", 1)
    assert torch.equal(seen["default"], seen["paper"])
    assert not torch.equal(seen["default"], seen["other seed"])


def test_canonical_draws_are_uniform_over_distinct_heads_not_over_choices():
    """One searchable layer with 2 widths x 2 norms x 3 activations, or skipped: 13 distinct
    heads. Drawing every choice uniformly gives the skipped head half the time; the canonical
    draw gives each of the 13 about 1/13."""
    from nasiam import MLPSpace, SearchableHead

    space = MLPSpace(widths=(4, 8), norms=("none", "batchnorm"), activations=("relu", "gelu", "elu"))
    head = SearchableHead(8, 8, num_layers=1, space=space)
    assert head.canonical_count() == 13
    counts: dict = {}
    generator = random.Random(0)
    for _ in range(2600):
        g = head.random_canonical_genotype(generator)
        counts[g.layers] = counts.get(g.layers, 0) + 1
    assert len(counts) == 13 and max(counts.values()) < 260   # ~200 each; a choice-wise draw gave the skip ~1300
    # two layers: 1 + 12 + 144 distinct heads (skipping the first or the second layer is the same head)
    deep = SearchableHead(8, 8, num_layers=2, space=space)
    assert deep.canonical_count() == 157
    depths: dict = {}
    for _ in range(3000):
        g = deep.random_canonical_genotype(generator)
        depths[len(g.layers)] = depths.get(len(g.layers), 0) + 1
    assert 5 < depths[1] < 50 and 100 < depths[2] < 360   # expected 19 (output layer only) and 229 (one hidden)


def test_random_panel_is_distinct_the_same_on_every_seed_and_refuses_more_than_the_space_holds(tmp_path):
    from nasiam.compare.plan import draw_panel

    plan, _ = prepare("random:6,search(--widths=16,32)", "0,1,2", tmp_path / "a", RUN)
    heads = {k: json.dumps(json.loads(open(v).read())["heads"]["projector"]["layers"])
             + json.dumps(json.loads(open(v).read())["heads"].get("predictor", {}).get("layers"))
             for k, v in plan.random_genotypes.items()}
    assert len(heads) == 6 and len(set(heads.values())) == 6   # six different architectures
    trained = {(j.head_id, j.seed) for j in plan.jobs if j.row == "random"}
    assert trained == {(h, s) for h in heads for s in (0, 1, 2)}   # the same panel on every seed
    again, _ = prepare("random:6,search(--widths=16,32)", "0,1,2", tmp_path / "b", RUN)
    assert [json.loads(open(p).read())["heads"] for p in again.random_genotypes.values()] == \
        [json.loads(open(p).read())["heads"] for p in plan.random_genotypes.values()]

    from nasiam import MLPSpace, SearchableHead

    tiny = {"projector": SearchableHead(8, 8, num_layers=1, space=MLPSpace(widths=(8,), norms=("none",),
                                                                            activations=("relu",)))}
    assert len(draw_panel(tiny, 2, random.Random(0))) == 2      # kept or skipped: two heads exist
    with pytest.raises(ConfigError, match="holds 2"):
        draw_panel(tiny, 3, random.Random(0))


def test_power_by_hand_and_seed_counts_grow_with_noise():
    from nasiam.compare.stats import paired_power, seeds_for_power

    # effect = sd: the normal approximation Phi(sqrt(n) - t_{0.975, n-1}); n = 10 -> Phi(3.162 - 2.262)
    assert paired_power(1.0, 1.0, 10) == pytest.approx(0.5 * (1 + math.erf((math.sqrt(10) - 2.262) / math.sqrt(2))))
    n = seeds_for_power(1.0, 1.0)
    assert paired_power(1.0, 1.0, n) >= 0.8 > paired_power(1.0, 1.0, n - 1)
    assert 9 <= n <= 11                                # the textbook answer for d = 1 is about 10
    assert seeds_for_power(0.5, 1.0) > 3 * n           # half the effect: about four times the seeds
    assert seeds_for_power(0.7, 1.2) > seeds_for_power(0.7, 0.5)


def test_report_puts_the_linear_probe_first_and_shows_panel_power_and_test_sample_noise(tmp_path):
    """A report from hand-made summaries and prediction files: linear is the primary table,
    each panel member is listed, and the power table gives seeds per effect and the SD that
    comes from the test sample alone."""
    from nasiam.compare.report import test_sample_sd, write_report
    from nasiam.eval.protocol import FeatureEvaluation, save_predictions

    plan, _ = prepare("default,random:2", "0,1,2", tmp_path, RUN)
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (500,), generator=g)
    for job in plan.jobs:
        run = tmp_path / "runs" / job.name
        run.mkdir(parents=True)
        bump = 0.0 if job.row == "default" else 1.0 + 0.3 * job.seed
        summary = {"linear_top1": 80.0 + bump + 0.1 * job.seed, "knn20_top1": 70.0 + job.seed, "knn200_top1": 69.0,
                   "knn_top1": 69.0, "rankme": 100.0 + job.seed, "train_seconds": 100.0, "eval_seconds": 10.0,
                   "heads": {"projector": job.head_id}}
        (run / "summary.json").write_text(json.dumps(summary))
        predicted = torch.where(torch.rand(500, generator=g) < 0.8, labels, (labels + 1) % 10)
        save_predictions(run / "eval" / "predictions.safetensors",
                         FeatureEvaluation({}, {"linear": predicted, "knn20": predicted, "knn200": predicted}, labels))
    md = write_report(plan, tmp_path / "runs", tmp_path)["markdown"]
    assert md.startswith("Primary metric: linear probe")
    assert md.index("linear probe top-1 %") < md.index("kNN top-1 % (k=20")
    assert "Random panel (2 distinct heads)" in md and "random-1" in md and "random-2" in md
    assert "seeds for 80 % power" in md and "Evaluation cost: 10 s a run on average, 10 %" in md
    # two independent 80 %-accurate predictors on 500 images: sd of the difference ~ sqrt(2 x 0.16 / 500)
    sd = test_sample_sd(tmp_path / "runs", [("random-1-s0", "default-s0")], "linear")
    assert sd == pytest.approx(100 * math.sqrt(2 * 0.16 / 500), rel=0.25)
    # the panel's row is the mean of its heads: its test-sample noise is that of the mean
    # (#32: the power table gave each head's, 0.36 where the panel mean's is about 0.30)
    panel = test_sample_sd(tmp_path / "runs", [(["random-1-s0", "random-2-s0"], "default-s0")], "linear")
    assert panel == pytest.approx(100 * math.sqrt((0.16 / 2 + 0.16) / 500), rel=0.25) and panel < sd
    every_seed = test_sample_sd(tmp_path / "runs", [([f"random-1-s{s}", f"random-2-s{s}"], f"default-s{s}")
                                                    for s in range(3)], "linear")
    [row] = [line for line in md.splitlines() if line.startswith("| random | linear_top1 |")]
    assert row.split(" | ")[3] == f"{every_seed:.2f}"   # the power table's test-sample column


def test_report_pairs_every_row_with_the_reference_asked_for(tmp_path):
    """--reference directpred: each row's paired column is its difference from directpred on the
    same seed (and the power table's too); the default reference keeps its old key."""
    from nasiam.compare.report import write_report
    from nasiam.eval.protocol import FeatureEvaluation, save_predictions

    plan, _ = prepare("default,directpred,random:2", "0,1,2", tmp_path, RUN)
    offset = {"default": 0.0, "directpred": 2.0}
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (500,), generator=g)
    for job in plan.jobs:
        run = tmp_path / "runs" / job.name
        run.mkdir(parents=True)
        # random heads: 1 point over default on average, seed-dependent so that pairs matter
        value = 80.0 + job.seed + offset.get(job.row, 1.0 + (0.2 if job.head_id.endswith("1") else -0.2))
        value += 0.3 if job.row == "directpred" and job.seed == 1 else 0.0   # a paired SD for the power table
        (run / "summary.json").write_text(json.dumps({"linear_top1": value, "train_seconds": 10.0,
                                                      "heads": {"projector": job.head_id}}))
        # directpred's predictions are the labels (every test image right): its pairs' test-sample SD is
        # the other run's own errors', not 0 as a run paired with itself would give
        accurate = 1.0 if job.row == "directpred" else 0.8
        predicted = torch.where(torch.rand(500, generator=g) < accurate, labels, (labels + 1) % 10)
        save_predictions(run / "eval" / "predictions.safetensors",
                         FeatureEvaluation({}, {"linear": predicted, "knn20": predicted, "knn200": predicted}, labels))
    report = write_report(plan, tmp_path / "runs", tmp_path, reference="directpred")
    rows = report["statistics"]["linear_top1"]["rows"]
    assert rows["default"]["vs_reference"].mean == pytest.approx(-2.1)
    assert rows["random"]["vs_reference"].mean == pytest.approx(-1.1)
    assert "vs_reference" not in rows["directpred"]
    md = report["markdown"]
    assert "| vs directpred, paired: mean [95 % CI], seeds better |" in md and "vs default, paired" not in md
    default_line = next(line for line in md.splitlines() if line.startswith("| default |"))
    assert "| -2.10 [" in default_line, default_line   # the table shows the pairs with the reference
    assert "| head vs directpred | metric |" in md and "| default | linear_top1 | 0.17 (n=3) |" in md
    # the test-sample column pairs each run with the reference's run of its seed: one 80 %-accurate
    # predictor against an exact one on 500 images, SD ~ 100 sqrt(0.16 / 500) = 1.8
    power = next(line for line in md.splitlines() if line.startswith("| default | linear_top1 | 0.17 (n=3) |"))
    assert 1.2 < float(power.split("|")[4]) < 2.4, power
    assert json.loads((tmp_path / "results.json").read_text())["statistics"]["linear_top1"]["reference"] == "directpred"
    as_before = write_report(plan, tmp_path / "runs", tmp_path)["statistics"]["linear_top1"]["rows"]
    assert as_before["directpred"]["vs_reference"].mean == pytest.approx(2.1)   # default is the reference


def test_report_states_the_search_cost_in_pretraining_runs_paired_by_seed(tmp_path):
    """Search training seconds over the same seed's default run's seconds."""
    from nasiam.compare.report import write_report

    plan, _ = prepare("default,search", "0,1", tmp_path, RUN)
    default_seconds, search_seconds = {0: 100.0, 1: 200.0}, {0: 60.0, 1: 80.0}
    for job in plan.jobs:
        run = tmp_path / "runs" / job.name
        run.mkdir(parents=True)
        if job.row is None:   # the search itself
            summary = {"train_seconds": search_seconds[job.seed], "knn_top1": 50.0, "genotypes": {},
                       "selection": {"method": "argmax"}}
        else:
            summary = {"linear_top1": 80.0 + job.seed, "train_seconds": default_seconds[job.seed] if job.row == "default"
                       else 999.0, "heads": {"projector": job.head_id}}
        (run / "summary.json").write_text(json.dumps(summary))
    report = write_report(plan, tmp_path / "runs", tmp_path)
    assert "Search cost: 0.50x one pretraining run" in report["markdown"] and "0.40-0.60x over 2 seed(s)" in report["markdown"]
    saved = json.loads((tmp_path / "results.json").read_text())["search_cost"]
    assert saved == {"pretrain_runs": pytest.approx(0.5), "min": pytest.approx(0.4), "max": pytest.approx(0.6), "n": 2,
                     "base": "default"}
    # without a default row, the reference row's runs are the pretraining runs the cost is counted in
    plan, _ = prepare("directpred,search", "0,", tmp_path / "dp", RUN)
    for job in plan.jobs:
        run = tmp_path / "dp" / "runs" / job.name
        run.mkdir(parents=True)
        summary = ({"train_seconds": 30.0, "knn_top1": 50.0, "genotypes": {}} if job.row is None else
                   {"linear_top1": 80.0, "train_seconds": 120.0, "heads": {"projector": job.head_id}})
        (run / "summary.json").write_text(json.dumps(summary))
    assert "Search cost" not in write_report(plan, tmp_path / "dp" / "runs", tmp_path / "dp")["markdown"]
    md = write_report(plan, tmp_path / "dp" / "runs", tmp_path / "dp", reference="directpred")["markdown"]
    assert "Search cost: 0.25x one pretraining run (a search's training seconds over its seed's " \
           "directpred run's" in md
    # a random panel as the reference: a seed's pretraining time is the mean of its heads' runs
    plan, _ = prepare("random:3,search", "0,", tmp_path / "panel", RUN)
    panel_seconds = iter([10.0, 20.0, 40.0])
    for job in plan.jobs:
        run = tmp_path / "panel" / "runs" / job.name
        run.mkdir(parents=True)
        summary = ({"train_seconds": 40.0, "knn_top1": 50.0, "genotypes": {}} if job.row is None else
                   {"linear_top1": 80.0, "train_seconds": next(panel_seconds) if job.row == "random" else 999.0,
                    "heads": {"projector": job.head_id}})
        (run / "summary.json").write_text(json.dumps(summary))
    report = write_report(plan, tmp_path / "panel" / "runs", tmp_path / "panel", reference="random")
    assert "Search cost: 1.71x one pretraining run" in report["markdown"], report["markdown"]


def test_report_names_the_environments_and_the_seeds_whose_runs_straddle_a_change(tmp_path):
    """Seed 1's search ran under another torch, and seed 2's default kept no record: both are
    named; seed 0, whose runs share one environment, is not."""
    from nasiam.compare.report import write_report
    from nasiam.runner.environment import environment

    plan, _ = prepare("default,search", "0,1,2", tmp_path, RUN)
    here = environment()
    for job in plan.jobs:
        run = tmp_path / "runs" / job.name
        run.mkdir(parents=True)
        env = {**here, "torch": "2.4.0+cpu"} if (job.row is None and job.seed == 1) else here
        summary = {"train_seconds": 50.0, "environment": env}
        summary.update({"genotypes": {}} if job.row is None else {"linear_top1": 80.0, "heads": {"projector": "x"}})
        if job.row == "default" and job.seed == 2:
            del summary["environment"]
        (run / "summary.json").write_text(json.dumps(summary))
    md = write_report(plan, tmp_path / "runs", tmp_path)["markdown"]
    assert f"torch {here['torch']}, timm {here['timm']}, cpu, {here['threads']} thread(s) (7 runs)" in md
    assert "torch 2.4.0+cpu" in md and "not recorded (1 run)" in md
    assert "straddle the change): 1, 2." in md
    from nasiam.compare.report import describe_code  # each run's commit, beside the environments

    assert f"Code: {describe_code(here)} (8 runs); not recorded (1 run)" in md



def test_report_shows_how_often_each_search_decision_agreed_across_seeds(tmp_path):
    from nasiam.compare.report import write_report

    plan, _ = prepare("default,search", "0,1,2", tmp_path, RUN)
    widths = {0: 128, 1: 128, 2: 512}
    for job in plan.jobs:
        run = tmp_path / "runs" / job.name
        run.mkdir(parents=True)
        summary = {"train_seconds": 50.0}
        if job.row is None:
            summary.update(genotypes={}, decisions=[
                {"head": "projector", "layer": 0, "choice": "width", "option": widths[job.seed], "options": 4,
                 "uniform": 0.25, "above_noise": job.seed == 0}])
        else:
            summary.update(linear_top1=80.0, heads={"projector": "x"})
        (run / "summary.json").write_text(json.dumps(summary))
    md = write_report(plan, tmp_path / "runs", tmp_path)["markdown"]
    assert "Decisions of search1 across its 3 seeds" in md and "Mean agreement 0.67 against 0.56 by chance" in md
    assert "| projector layer 0 width | 128 | 0.67 | 0.56 | 1 of 3 |" in md


def test_report_only_trains_nothing_and_reports_the_runs_finished_so_far(tmp_path, capsys):
    """A status while another process runs the comparison: the finished runs' tables, how many
    of the planned runs they are, no run started, no log written."""
    plan, _ = prepare("default,random:1", "0,1", tmp_path, RUN)
    for job in plan.jobs[:2]:   # seed 0 finished, seed 1 not yet
        finish(job, tmp_path / "runs", {"linear_top1": 80.0, "train_seconds": 10.0, "heads": {"projector": job.head_id}})
    argv = ["compare", "--heads", "default,random:1", "--seeds", "0,1", "--out", str(tmp_path), "--report_only",
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"2 of {len(plan.jobs)} runs have finished" in out and "Primary metric: linear probe" in out
    assert not (tmp_path / "logs").exists() and (tmp_path / "results.md").is_file()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(j.name for j in plan.jobs[:2])
    assert not (tmp_path / ".lock").exists()   # a status takes no lock: another process may be running it


# -- what a comparison folder holds must be what it plans (issue #33) -------------------------
SUMMARY = {"linear_top1": 80.0, "train_seconds": 10.0, "heads": {"projector": "x"}}


def test_a_run_folder_that_is_not_its_jobs_run_is_refused_never_reported(tmp_path):
    """A seed-0 run copied in as seed 1, a summary with no config beside it, and runs trained
    under other options (compare.json lost, the call repeated with --epochs=5) are named and
    refused, and compare.json is not rewritten; the same runs moved to another folder (an
    archive restored elsewhere) still count."""
    import shutil

    out = tmp_path / "cmp"
    plan, _ = prepare("default,random:1", "0,1", out, RUN)
    for job in plan.jobs:
        if job.seed == 0:
            finish(job, out / "runs", SUMMARY)
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    assert len(prepare("default,random:1", "0,1", moved, RUN)[0].jobs) == 4   # paths relative to the folder: accepted

    shutil.copytree(out / "runs" / "default-s0", out / "runs" / "default-s1")
    with pytest.raises(ConfigError, match=r"default-s1/config.yaml \(read\) says it was trained with --seed=0 \(this comparison: 1\); "
                                          r"--run_name=default-s0 \(this comparison: default-s1\)"):
        prepare("default,random:1", "0,1", out, RUN)
    (out / "runs" / "default-s1" / "config.yaml").unlink()   # a forged summary, nothing beside it
    with pytest.raises(ConfigError, match="default-s1 has a summary.json but no config.yaml"):
        prepare("default,random:1", "0,1", out, RUN)
    shutil.rmtree(out / "runs" / "default-s1")

    # a run whose files changed after it finished (summary.json records their sha256)
    from nasiam.runner.outputs import write_summary

    run = out / "runs" / "default-s0"
    (run / "heads" / "projector").mkdir(parents=True)
    (run / "heads" / "projector" / "head.safetensors").write_bytes(b"the run's weights")
    write_summary(run, json.loads((run / "summary.json").read_text()))
    assert len(prepare("default,random:1", "0,1", out, RUN)[0].jobs) == 4
    (run / "heads" / "projector" / "head.safetensors").write_bytes(b"another run's weights")
    with pytest.raises(ConfigError, match=r"default-s0: heads/projector/head.safetensors changed since the run "
                                          r"finished .* move the folder out of the comparison"):
        prepare("default,random:1", "0,1", out, RUN)
    shutil.rmtree(run / "heads")

    (out / "compare.json").unlink()
    with pytest.raises(ConfigError, match=r"(?s)2 run folder\(s\).*--epochs=2 \(this comparison: 5\)"):
        prepare("default,random:1", "0,1", out, {**RUN, "epochs": "5"})
    assert not (out / "compare.json").exists()   # refused before writing anything
    assert prepare("default,random:1", "0,1", out, RUN)[0].jobs   # the options they ran with: accepted


@pytest.mark.parametrize("row", ["default", "search"])
def test_runs_trained_with_an_option_the_repeated_call_leaves_out_are_refused(tmp_path, row):
    """compare.json lost, a comparison begun with --lr 0.07 repeated without --lr: its runs were
    reported as default-lr runs and compare.json rewritten to say so, exit 0 (the sixth probe of
    #33; only the options the call set were checked). An option left out is its default, and the
    run must have had that; a search's own options (--space, its epochs) are the search spec's."""
    out = tmp_path / "cmp"
    plan, _ = prepare(row, "0,", out, {**RUN, "lr": "0.07"})
    for job in plan.jobs:
        finish(job, out / "runs", SUMMARY, space="mlp", epochs=8) if job.command == "search" else \
            finish(job, out / "runs", SUMMARY)
    assert len(prepare(row, "0,", out, {**RUN, "lr": "0.07"})[0].jobs) == len(plan.jobs)   # as they ran: accepted
    (out / "compare.json").unlink()
    with pytest.raises(ConfigError, match=r"--lr=0.07 \(this comparison: not set, so its default 0.05\): to report "
                                          r"it, run this comparison with the options it was trained with \(--lr=0.07\)"):
        prepare(row, "0,", out, RUN)
    assert not (out / "compare.json").exists()   # refused before writing anything


def test_each_refused_run_folder_is_given_its_own_fix(tmp_path):
    """The refusal of run folders that are not their jobs' runs ended with one piece of advice
    for all, "Pass the options they were trained with", under a seed-0 run copied in as seed 1,
    whose --seed and --run_name compare sets and no option can pass (#33 round three). Each
    folder now ends with its own fix, and nothing generic follows."""
    import shutil

    out = tmp_path / "cmp"
    plan, _ = prepare("default", "0,1", out, RUN)
    finish(plan.jobs[0], out / "runs", SUMMARY)
    shutil.copytree(out / "runs" / "default-s0", out / "runs" / "default-s1")
    with pytest.raises(ConfigError) as copied:
        prepare("default", "0,1", out, RUN)
    message = str(copied.value)
    assert message.endswith("--run_name=default-s0 (this comparison: default-s1): move the folder out of the "
                            "comparison (it is left as it is) and run the same command again to train this one "
                            "afresh, or choose another --out"), message
    assert "options they were trained with" not in message and "run this comparison with" not in message
    shutil.rmtree(out / "runs" / "default-s1")
    (out / "compare.json").unlink()   # lost, and the call repeated with other options: those can be passed
    with pytest.raises(ConfigError) as other_options:
        prepare("default", "0,1", out, {**RUN, "epochs": "5"})
    assert str(other_options.value).endswith(
        "--epochs=2 (this comparison: 5): to report it, run this comparison with the options it was trained with "
        "(--epochs=2); else move the folder out of the comparison (it is left as it is) and run the same command "
        "again to train this one afresh, or choose another --out"), str(other_options.value)


@pytest.mark.parametrize("heads, words", [
    ("search1=default,search", "the search of search1 and row 'search1' would both train in runs/search1-s0"),
    ("r-1=default,r=random:2", "row 'r-1' and row 'r' would both train in runs/r-1-s0"),
])
def test_a_label_that_meets_a_generated_name_is_refused_before_anything_is_written(tmp_path, heads, words):
    with pytest.raises(ConfigError, match=words):
        prepare(heads, "0,1", tmp_path / "cmp", RUN)
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("heads", ["r=random:1,r-x=random:1/seed", "x=random:1/seed,x-1=random:1/seed",
                                   "r=random:2,r-1=random:1"])
def test_each_random_row_trains_only_the_heads_it_drew(tmp_path, heads):
    """Row `r`'s heads are `r-1`..., row `r-x`'s `r-x-1`...: both start with `r-`. Before the
    fix a row took every head whose id began with its label, so `r=random:1,r-x=random:1/seed`
    trained row r-x's head also under row r (3 runs for 2 heads, r's mean over both) and the
    others were refused as two rows in one folder, which they are not."""
    plan, _ = prepare(heads, "0,1", tmp_path / "cmp", RUN)
    rows: dict[str, set[str]] = {}
    for job in plan.jobs:
        rows.setdefault(job.row, set()).add(job.head_id)
    labels = [h.split("=")[0] for h in heads.split(",")]
    for label in labels:
        drawn = {h for h in plan.random_genotypes if h.rsplit("-s", 1)[0].rsplit("-", 1)[0] == label}
        assert rows[label] == drawn, (label, rows[label], drawn)
    per_seed_heads = sum(int(h.split(":")[1].split("/")[0]) for h in heads.split(","))
    assert len(plan.jobs) == 2 * per_seed_heads   # one run per head and seed, nothing twice


@pytest.mark.parametrize("name", ["esc\x1b[2Jname", "e\u0301", "\u00e9", "a" * 250, "my head"])
def test_an_unlabelled_path_row_whose_folder_name_is_no_label_asks_for_one_before_anything_is_written(
        tmp_path, capsys, name):
    """An unlabelled PATH row is labelled by its folder's name, which names its run folders and
    report rows: it meets the label rule too (was taken as it was: an ESC printed raw, NFC and NFD
    twins shown as one row, a 250-character name refused at launch: #33 probe 10, G1)."""
    folder = tmp_path / "lab" / name
    folder.mkdir(parents=True)
    (folder / "genotype.json").write_text("{}")
    out = tmp_path / "cmp"
    assert main(["compare", "--heads", str(folder), "--seeds", "1", "--out", str(out), "--report_only",
                 "--dataset=synthetic"]) == 2
    err = capsys.readouterr().err
    assert "has no label, and its folder name" in err and "name the row: LABEL=PATH" in err, err
    assert "\x1b" not in err and not out.exists()
    assert parse_heads(f"mine={folder}")[0].label == "mine"   # the advice works


def test_an_unlabelled_genotype_file_is_labelled_by_its_stem_when_that_is_a_label(tmp_path, monkeypatch):
    good = tmp_path / "search-20261207"
    (good / "sub").mkdir(parents=True)
    (good / "genotype.json").write_text("{}")
    (tmp_path / "best head.json").write_text("{}")
    assert [s.label for s in parse_heads([str(good), str(good / "genotype.json")])] == ["search-20261207", "genotype"]
    monkeypatch.chdir(good / "sub")   # `--heads ..` and `--heads .` are labelled by the folder's own name, not ''
    assert parse_heads("..")[0].label == "search-20261207"
    monkeypatch.chdir(good)
    assert parse_heads(".")[0].label == "search-20261207"
    with pytest.raises(ConfigError, match="its file name 'best head' is not a valid label"):
        parse_heads(str(tmp_path / "best head.json"))


@pytest.mark.parametrize("name", ["abc\n", "abc "])
def test_a_path_whose_name_ends_in_whitespace_is_read_as_given(tmp_path, name):
    """`--heads lab/$'abc\\n'`: the spec was stripped, and the folder that is there called missing
    (#33 probe 11, N1); the whitespace around a spec still separates (`default, paper`). Unlabelled,
    its name is no label ($ matched before a final newline: 'abc\\n' passed); labelled, it runs."""
    folder = tmp_path / "lab" / name
    folder.mkdir(parents=True)
    (folder / "genotype.json").write_text("{}")
    with pytest.raises(ConfigError, match=re.escape(f"its folder name {name!r} is not a valid label")):
        parse_heads(str(folder))
    rows = parse_heads(f"default, mine={folder},paper")
    assert [(s.label, s.path) for s in rows] == [("default", None), ("mine", str(folder)), ("paper", None)]
    with pytest.raises(ConfigError, match="does not exist"):   # nothing of either name: the stripped one named
        parse_heads(f"mine={tmp_path / 'lab' / 'xyz'}{name}")


def test_a_label_that_names_another_head_kind_is_refused(tmp_path, capsys, monkeypatch):
    """#33 probe 12, I8: `default=paper` and a PATH folder named `default` were reported as the row
    `default`, the report's reference ("vs default"); a label may be a kind's name only for that kind."""
    monkeypatch.chdir(tmp_path)   # a relative path: a long $TMPDIR cuts an absolute one in the message
    folder = pathlib.Path("lab") / "default"
    folder.mkdir(parents=True)
    (folder / "genotype.json").write_text("{}")
    for heads, row in (("default=paper,directpred", "a 'paper' head"), ("random=default", "a 'default' head"),
                       (f"{folder},paper", f"the head at {folder}"), ("search=paper", "a 'paper' head")):
        label = heads.split("=")[0] if "=" in heads else "default"
        with pytest.raises(ConfigError, match=re.escape(f"the label {label!r} is the name of a head kind, but its row "
                                                        f"trains {row}; choose another label: LABEL=SPEC")):
            parse_heads(heads)
    assert [s.label for s in parse_heads("search=search(--epochs=2),default=default(--epochs=3),paper")] == \
        ["search", "default", "paper"]   # a kind's own name stays its label
    argv = ["compare", "--heads", "default=paper,directpred", "--seeds", "0,", "--out", str(tmp_path / "cmp"),
            "--report_only", *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 2 and "the label 'default' is the name of a head kind" in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()


def test_labels_that_differ_only_in_case_are_refused_as_one_folder(tmp_path):
    """On a case-insensitive file system (macOS, Windows) runs/DEFAULT-s0 and runs/default-s0
    are one folder: the second row would find the first one's run (was accepted)."""
    with pytest.raises(ConfigError, match="row 'DEFAULT' and row 'default' would both train in runs/default-s0"):
        prepare("DEFAULT=paper,default", "0,1", tmp_path / "cmp", RUN)
    assert not (tmp_path / "cmp").exists()


def test_a_heads_path_row_trains_one_head_on_every_seed(tmp_path):
    """The file's sha256 is pinned in compare.json when the comparison begins: changed between
    seeds, the next run is refused at its start (`changed_head`); changed between calls, the
    call is refused."""
    from nasiam.compare.plan import changed_head
    from nasiam.presets import get_preset
    from nasiam.rundir import write_search_genotypes

    mine = tmp_path / "mine.json"
    write_search_genotypes(mine, "simsiam", {"projector": get_preset("simsiam_projector_cifar", hidden_dim=32,
                                                                     out_dim=32)})
    plan, out = prepare(f"mine={mine},default", "0,1", tmp_path / "cmp", RUN)
    seed0, seed1 = (next(j for j in plan.jobs if j.row == "mine" and j.seed == s) for s in (0, 1))
    assert f"--head={mine}" in seed0.options() and changed_head(seed0) is None
    mine.write_text(mine.read_text().replace("32", "16"))   # edited while seed 0 trains
    assert "mine.json changed since this comparison pinned it" in changed_head(seed1)
    with pytest.raises(ConfigError, match="is not the head this comparison began with"):
        prepare(f"mine={mine},default", "0,1", out, RUN)
    mine.unlink()
    assert "mine.json cannot be read now" in changed_head(seed1)


def test_a_heads_path_row_run_is_checked_against_the_file_it_trained_after_compare_json_is_lost(tmp_path):
    """config.yaml names the head file, not its content: with compare.json lost and the file
    edited (same path, mish -> relu), the runs that trained the old file are refused (their
    summary.json records its sha256), never reported as the new head; so is a run that records
    no sha256. Before the fix the rerun counted them as done."""
    from nasiam.presets import get_preset
    from nasiam.rundir import genotype_file_sha256, write_search_genotypes

    mine = tmp_path / "mine.json"
    write_search_genotypes(mine, "simsiam", {"projector": get_preset("simsiam_projector_cifar", hidden_dim=32,
                                                                     out_dim=32)})
    heads, old = f"mine={mine},default", genotype_file_sha256(mine)
    plan, out = prepare(heads, 1, tmp_path / "cmp", RUN)
    row = next(j for j in plan.jobs if j.row == "mine")
    assert row.head_sha256 == old
    for job in plan.jobs:
        finish(job, out / "runs", {**SUMMARY, "head_sha256": old if job is row else None})
    assert len(prepare(heads, 1, out, RUN)[0].jobs) == 2   # the file it trained: accepted

    (out / "compare.json").unlink()
    mine.write_text(mine.read_text().replace('"relu"', '"mish"'))
    assert genotype_file_sha256(mine) != old
    with pytest.raises(ConfigError, match=rf"mine-s0/summary.json \(read\) says it trained {mine} as sha256 "
                                          rf"{old[:12]}; this comparison trains that file as sha256 "
                                          rf"{genotype_file_sha256(mine)[:12]}"):
        prepare(heads, 1, out, RUN)
    assert not (out / "compare.json").exists()
    assert main(["compare", f"--heads={heads}", "--seeds=1", f"--out={out}", "--report_only",
                 *(f"--{k}={v}" for k, v in RUN.items())]) == 2

    summary = json.loads((out / "runs" / "mine-s0" / "summary.json").read_text())
    summary["head_sha256"] = 12345   # a damaged record is refused
    (out / "runs" / "mine-s0" / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ConfigError, match="as an unreadable record"):
        prepare(heads, 1, out, RUN)
    del summary["head_sha256"]   # a run from before the record (archived benchmarks): trusted as before
    (out / "runs" / "mine-s0" / "summary.json").write_text(json.dumps(summary))
    assert len(prepare(heads, 1, out, RUN)[0].jobs) == 2


def test_a_resumed_pretraining_run_refuses_a_head_file_edited_since_it_began():
    """The checkpoint keeps the head file's sha256: same shapes would load silently."""
    from types import SimpleNamespace

    from nasiam.errors import CheckpointError
    from nasiam.runner.pretrain import PretrainRun

    run = SimpleNamespace(cfg=SimpleNamespace(head="mine.json"), head_sha256="b" * 64)
    with pytest.raises(CheckpointError, match="mine.json is not the head file this run began with"):
        PretrainRun.load_state(run, {"head_sha256": "a" * 64, "model": {}, "optimizer": {}})


def _fake_launch(launched):
    """executor._launch without training: the run's files appear and the process exits 0, or 2
    for a pretraining run whose --head is a search folder without a genotype (as nasiam does)."""
    import subprocess
    import sys
    from pathlib import Path

    def launch(job, runs, logs, env):
        launched.append(job.name)
        options = dict(o[2:].split("=", 1) for o in job.options())
        head = Path(options.get("head", "default"))
        code = 2 if head.is_dir() and not (head / "genotype.json").is_file() else 0
        if code == 0:
            run = finish(job, runs, SUMMARY if job.command == "pretrain" else {"genotypes": {}})
            if job.command == "search":
                (run / "genotype.json").write_text("{}")
                (run / "backbone.safetensors").write_bytes(b"")
        log = logs / f"{job.name}.log"
        log.write_text(f"exit {code}\n")
        return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"]), log, False
    return launch


def test_a_collapsed_search_fails_its_rows_on_that_seed_and_the_other_seeds_finish(tmp_path, capsys, monkeypatch):
    """Seed 0's search collapsed (exit 3, genotype.rejected.json): its row is failed without
    being started, every other run finishes, and the exit code is 6 (some runs failed), on this
    call and on the next, which starts nothing again."""
    import nasiam.compare.executor as executor

    launched = []
    monkeypatch.setattr(executor, "_launch", _fake_launch(launched))
    plan, out = prepare("default,search", "0,1", tmp_path, RUN)
    search0 = finish(next(j for j in plan.jobs if j.name == "search1-s0"), tmp_path / "runs", {"genotypes": {}})
    (search0 / "genotype.rejected.json").write_text("{}")
    argv = ["compare", "--heads", "default,search", "--seeds", "0,1", "--out", str(tmp_path),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 6
    captured = capsys.readouterr()
    assert sorted(launched) == ["default-s0", "default-s1", "search-s1", "search1-s1"]
    assert "failed: search-s0" in captured.err and "search1-s0 collapsed" in captured.err
    assert "exit None" not in captured.err and "1 of 6 runs failed" in captured.err
    assert "Searches that collapsed (genotype refused, genotype.rejected.json): search1-s0" in captured.out
    launched.clear()
    assert main(argv) == 6 and launched == []   # nothing relaunched, nothing wedged


@pytest.mark.parametrize("spec", ["y" * 300, "mine=" + "d/" * 2100 + "genotype.json", "loop/genotype.json"])
def test_a_heads_path_the_file_system_refuses_is_named_as_heads(tmp_path, capsys, spec):
    """A 300-character --heads value is read as a path (no head kind has that name): its
    ENAMETOOLONG was described as an output path's, "shorten --run_name, --out_dir or the
    file's name" (the sixth probe of #33, L5). Now exit 2 naming --heads and what it takes; so
    for a path over 4096 bytes and a loop of symbolic links. Nothing is written."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    out = tmp_path / "cmp"
    argv = ["compare", "--heads", spec.replace("loop/", f"{tmp_path}/loop/"), "--seeds", "0,", "--out", str(out),
            "--report_only", *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: --heads: " in err and "is read as a path, and it " in err and "--run_name" not in err, err
    assert "search run directory or genotype.json at a shorter path" in err and not out.exists()


def test_a_label_over_64_characters_is_named_as_a_label_not_a_path(tmp_path, capsys):
    """`--heads "aaa...(250)=default"` was refused as "read as a path, and it is longer than the
    file system allows" (the eighth probe of #33, E6): the label rule was not named. Now the
    label is, shortened, before the value is read as a path; nothing is written."""
    out = tmp_path / "l3"
    argv = ["compare", "--heads", "a" * 250 + "=default", "--seeds", "0,", "--out", str(out), "--report_only",
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is not a valid label; a label is 1 to 64 ASCII letters" in err and "(250 characters)" in err, err
    assert "read as a path" not in err and "a" * 100 not in err and not out.exists()


def test_a_summary_edited_after_its_run_finished_is_refused_naming_the_run(tmp_path, capsys, monkeypatch):
    """A forged score in a finished run's summary.json was reported as is (the probes of #33: a
    summary cannot vouch for itself). compare.json records the sha256 of each summary when its
    run finishes; a later call, training or --report_only, refuses a run whose summary changed
    (exit 2, naming it and why), and accepts it again once restored. A compare.json of an older
    nasiam, which recorded none, is read as before."""
    import nasiam.compare.executor as executor

    monkeypatch.setattr(executor, "_launch", _fake_launch([]))
    argv = ["compare", "--heads", "default,random:1", "--seeds", "0,", "--out", str(tmp_path),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 0
    recorded = json.loads((tmp_path / "compare.json").read_text())["finished_summaries"]
    assert sorted(recorded) == ["default-s0", "random-1-s0"]
    summary = tmp_path / "runs" / "default-s0" / "summary.json"
    original = summary.read_bytes()
    summary.write_text(json.dumps({**json.loads(original), "linear_top1": 99.25}))   # a forged score
    capsys.readouterr()
    for extra in (["--report_only"], []):
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        assert f"{summary} (read) is not the summary this comparison recorded when default-s0 finished" in err, err
        assert "edited or replaced since" in err and "Traceback" not in err
    assert "99.25" not in (tmp_path / "results.md").read_text()
    summary.write_bytes(original)   # restored: accepted
    assert main([*argv, "--report_only"]) == 0
    summary.write_text(json.dumps({**json.loads(original), "linear_top1": 99.25}))
    manifest = json.loads((tmp_path / "compare.json").read_text())
    del manifest["finished_summaries"]   # an older nasiam's compare.json: as before
    (tmp_path / "compare.json").write_text(json.dumps(manifest))
    assert main([*argv, "--report_only"]) == 0


@pytest.mark.parametrize("meddle", ["list", "removed"])
def test_compare_json_replaced_or_removed_while_a_run_trains_is_written_again_whole(tmp_path, capsys, monkeypatch,
                                                                                    meddle):
    """compare.json was re-read, unchecked, each time a run finished: replaced by `[]` meanwhile,
    the comparison ended in a traceback (exit 1); removed, in a raw "[Errno 2]" and no tables (E1
    of the eighth probe of #33). The record is kept in memory from the start (the comparison's
    lock is held) and written from it: the comparison finishes, its tables and record whole."""
    import nasiam.compare.executor as executor

    fake = _fake_launch([])

    def launch(job, runs, logs, env):   # the file meddled with while the run trains
        manifest = tmp_path / "compare.json"
        if meddle == "list":
            manifest.write_text("[]")
        else:
            manifest.unlink()
        return fake(job, runs, logs, env)

    monkeypatch.setattr(executor, "_launch", launch)
    argv = ["compare", "--heads", "default,random:1", "--seeds", "0,", "--out", str(tmp_path),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 0
    assert "Traceback" not in capsys.readouterr().err
    manifest = json.loads((tmp_path / "compare.json").read_text())
    assert manifest["format"] and sorted(manifest["finished_summaries"]) == ["default-s0", "random-1-s0"]
    assert (tmp_path / "results.md").is_file()
    assert main([*argv, "--report_only"]) == 0   # the record read back as a comparison's


def test_a_second_compare_on_the_same_out_is_refused_naming_the_first(tmp_path, capsys):
    import os

    from nasiam.runner.lock import RunDirLock

    argv = ["compare", "--heads", "default", "--seeds", "1", "--out", str(tmp_path),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    with RunDirLock(tmp_path, "compare"):   # the first comparison, still running
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"is in use by pid {os.getpid()}" in err and "one `nasiam compare` runs a comparison folder at a time" in err
    assert "refused its options" not in err
    assert not (tmp_path / "logs").exists() and not (tmp_path / "compare.json").exists()   # nothing written


@pytest.mark.parametrize("content, words", [
    ('"a string"', "holds a JSON str, not a run summary"),
    ("[1, 2]", "holds a JSON list"),
    ('{"linear_top1": NaN}', "linear_top1 is 'nan', not a number between 0 and 100"),
    ('{"train_seconds": 1e308}', "train_seconds is '1e+308'"),
    ('{"heads": "x"}', "heads is a str, not an object"),
    ('{"selection": "argmax"}', "selection is a str, not an object"),
    (b"\xff\xfe{", "not JSON"),
    # strings the report prints: an escape sequence in them reached the terminal and results.md raw
    # (the sixth probe of #33: environment.device_name "\x1b[31mred\x1b]0;pwned\x07", exit 0)
    ('{"environment": {"device_name": "\\u001b[31mred"}}', "environment holds '\\x1b[31mred'"),
    ('{"heads": {"projector": "x\\u202ey"}}', "heads holds 'x\\u202ey'"),
    ('{"selection": {"fallbacks": [["\\u0007"]]}}', "selection holds '\\x07'"),
    ('{"genotypes": {"\\u001b[2J": "x"}}', "genotypes holds '\\x1b[2J'"),
])
def test_a_damaged_summary_is_named_with_exit_2(tmp_path, capsys, content, words):
    plan, _ = prepare("default", "0,", tmp_path, RUN)
    run = finish(plan.jobs[0], tmp_path / "runs", SUMMARY)
    (run / "summary.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    for extra in ([], ["--report_only"]):
        argv = ["compare", "--heads", "default", "--seeds", "0,", "--out", str(tmp_path), *extra,
                *[f"--{k}={v}" for k, v in RUN.items()]]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{run / 'summary.json'} (read) is damaged: " in err and words in err, err
        assert "Traceback" not in err and "Move its run folder out of the comparison" in err


@pytest.mark.parametrize("kind, words", [("folder", "it is a folder, where a finished run has a file"),
                                         ("link", "it is a symbolic link to ")])
def test_a_summary_that_is_not_a_file_is_refused_before_training(tmp_path, capsys, monkeypatch, kind, words):
    """A summary.json that is a folder (or a dangling link) read as "not finished": compare
    trained the run again, then failed writing its summary. Now named before any training."""
    from nasiam.compare import executor

    plan, _ = prepare("default", "0,", tmp_path, RUN)
    run = tmp_path / "runs" / plan.jobs[0].name
    run.mkdir(parents=True)
    if kind == "folder":
        (run / "summary.json").mkdir()
    else:
        (run / "summary.json").symlink_to(tmp_path / "nowhere")
    launched = []
    monkeypatch.setattr(executor, "_launch", _fake_launch(launched))
    assert main(["compare", "--heads", "default", "--seeds", "0,", "--out", str(tmp_path),
                 *[f"--{k}={v}" for k, v in RUN.items()]]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'summary.json'} (read) is damaged: {words}" in err and "Move its run folder out" in err, err
    assert launched == [] and "Traceback" not in err


def test_a_damaged_compare_json_is_named_with_exit_2(tmp_path, capsys):
    prepare("default", "0,", tmp_path, RUN)
    (tmp_path / "compare.json").write_bytes(b"\xff" * 10)
    argv = ["compare", "--heads", "default", "--seeds", "0,", "--out", str(tmp_path),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'compare.json'} (read) is damaged (UnicodeDecodeError" in err and "Traceback" not in err


@pytest.mark.parametrize("pin", ["x", {"path": "mine.json", "sha256": [1]}, {"sha256": "0" * 64}])
def test_a_damaged_head_pin_in_compare_json_is_refused_not_pinned_anew(tmp_path, pin):
    """#33 probe 12, I7: a pin that was not an object was dropped and written anew from the file as
    it was then (also after the file was replaced); a sha256 that was a list was called another head."""
    from nasiam.presets import get_preset
    from nasiam.rundir import write_search_genotypes

    mine = tmp_path / "mine.json"
    write_search_genotypes(mine, "simsiam", {"projector": get_preset("simsiam_projector_cifar", hidden_dim=32,
                                                                     out_dim=32)})
    _, out = prepare(f"mine={mine},default", "0,", tmp_path / "cmp", RUN)
    manifest = json.loads((out / "compare.json").read_text())
    manifest["pinned_heads"]["mine"] = pin
    (out / "compare.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=r"compare\.json \(read\) is damaged \(its pin for row 'mine' is not "):
        prepare(f"mine={mine},default", "0,", out, RUN)
    assert json.loads((out / "compare.json").read_text()) == manifest


def test_an_archived_benchmark_written_before_runs_kept_their_commit_still_counts(tmp_path):
    """benchmarks/directpred_search.py's 25 archived runs (their config.yaml names folders of
    another worktree; their summaries have no environment.code) pass the run checks when
    restored elsewhere, and are all reported, their code "not recorded"."""
    from _benchmarks import BENCHMARKS, load_benchmark

    from nasiam.compare.report import collect_records

    search = load_benchmark("directpred_search")
    keep = BENCHMARKS / "results" / "directpred_search"
    search.ceiling.restore(keep, tmp_path)
    plan, _ = prepare(search.ROWS, search.SEEDS, tmp_path, search.ceiling.PROTOCOL)
    records, searches = collect_records(plan, tmp_path / "runs")
    assert len(records) + len(searches) == len(list((keep / "runs").iterdir())) == 25
    assert {r.code for r in records} | {s["code"] for s in searches} == {"not recorded"}


def test_the_help_says_searches_keep_their_own_epochs(capsys):
    """`nasiam compare --help` said searches get the options "they share", which reads as if
    --epochs reached them; a search keeps its own budget (search_common), and the help says so."""
    from nasiam.compare.plan import search_common

    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "A search row gets those nasiam search also has, except --epochs: a search keeps its own budget" in text
    assert "epochs" not in search_common({"epochs": "12", "lr": "0.1"})   # what the help describes


def _head_versions(tmp_path):
    """A head file (tmp_path/mine.json) and two versions of its bytes: hidden width 32, then 16."""
    from nasiam.presets import get_preset
    from nasiam.rundir import write_search_genotypes

    mine, versions = tmp_path / "mine.json", []
    for hidden in (32, 16):
        write_search_genotypes(mine, "simsiam", {"projector": get_preset("simsiam_projector_cifar", hidden_dim=hidden,
                                                                         out_dim=32)})
        versions.append(mine.read_bytes())
    mine.write_bytes(versions[0])
    return mine, versions


def test_pretrain_records_the_sha256_of_the_head_file_bytes_it_parsed(tmp_path, monkeypatch):
    """`pretrain --head FILE` parsed the file, then read it again for its sha256: a file replaced
    between the two reads gave a run whose summary names another head than it trained (#33, the
    fourth probe's note). Now one read: the hash is that of the bytes parsed."""
    import hashlib
    from types import SimpleNamespace

    from _replaced_on_open import replaced_on_every_open

    import nasiam.runner.pretrain as pretrain

    mine, versions = _head_versions(tmp_path)
    monkeypatch.setattr(pretrain, "build_backbone", lambda cfg, info: None)
    for init in (None, "init"):   # with --init, --head is read to check it against the searched heads
        cfg = SimpleNamespace(head=str(mine), init=init, framework="simsiam", backbone="resnet18", cifar_stem=True)
        run = SimpleNamespace(cfg=cfg, info=SimpleNamespace(channels=3), _local_source=lambda o, c=cfg: getattr(c, o))
        if init:
            monkeypatch.setattr(pretrain, "require_complete", lambda *a: None)
            monkeypatch.setattr(pretrain, "load_backbone", lambda *a: None)
            monkeypatch.setattr(pretrain, "load_heads", lambda *a: {})
        with replaced_on_every_open(mine, versions) as state:
            _, heads = pretrain.PretrainRun._heads_and_backbone(run)
        assert state["opens"] == 1
        if not init:
            assert heads["projector"].layers[0].width == 32   # versions[0]
        assert run.head_sha256 == hashlib.sha256(versions[0]).hexdigest()


def test_compare_pins_the_sha256_of_the_head_file_bytes_it_checked(tmp_path):
    """compare read a --heads PATH file to check its widths, then again to pin its sha256: a
    file replaced in between was pinned as a head nobody checked. Now one read."""
    import hashlib

    from _replaced_on_open import replaced_on_every_open

    mine, versions = _head_versions(tmp_path)
    with replaced_on_every_open(mine, versions) as state:
        prepare(f"mine={mine},default", "0,", tmp_path / "cmp", RUN)
    assert state["opens"] == 1
    pinned = json.loads((tmp_path / "cmp" / "compare.json").read_text())["pinned_heads"]["mine"]
    assert pinned["sha256"] == hashlib.sha256(versions[0]).hexdigest()


def test_a_head_file_edited_between_seeds_fails_its_row_and_the_rest_finish(tmp_path, capsys, monkeypatch):
    """A --heads PATH file edited after the comparison pinned it, while it ran: the next run of
    its row was refused by raising, which stopped the whole comparison (exit 2) and the other
    rows' runs with it. Now that row's remaining runs are refused by name, with the fix; every
    other run finishes and the exit code is 6 (some runs failed). Restored, the same command
    trains the refused run."""
    import nasiam.compare.executor as executor

    mine, versions = _head_versions(tmp_path)
    launched = []
    plain = _fake_launch(launched)

    def launch(job, runs, logs, env):
        if job.name == "mine-s0":
            mine.write_bytes(versions[1])   # edited while seed 0 trains (it read the pinned one)
        return plain(job, runs, logs, env)

    monkeypatch.setattr(executor, "_launch", launch)
    out = tmp_path / "cmp"
    argv = ["compare", "--heads", f"mine={mine},default", "--seeds", "0,1", "--out", str(out),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 6
    captured = capsys.readouterr()
    assert launched == ["mine-s0", "default-s0", "default-s1"]
    assert "failed: mine-s1" in captured.err and f"{mine} changed since this comparison pinned it" in captured.err
    assert "restore the file and run the same command again" in captured.err and "Traceback" not in captured.err
    assert "1 of 4 runs failed" in captured.err
    assert {r["run"] for r in json.loads((out / "results.json").read_text())["records"]} == {
        "mine-s0", "default-s0", "default-s1"}
    mine.write_bytes(versions[0])   # restored
    launched.clear()
    assert main(argv) == 0 and launched == ["mine-s1"]


@pytest.mark.parametrize("outcome", ["trained", "refused"])
def test_a_run_that_read_its_head_file_after_an_edit_is_failed_unreported_and_the_rest_finish(
        tmp_path, capsys, monkeypatch, outcome):
    """The driver checks a --heads PATH file before it starts each run; the run reads it seconds
    later (after loading its data). Edited in between, the run trains the new head and records its
    sha256 (the comparison reported both heads as one row, exit 0; then it stopped everything,
    exit 2), or it refuses the new file (exit 2, taken for options every run would refuse: all
    stopped). Now that run is failed and not reported, the others finish, exit 6."""
    import subprocess
    import sys

    import nasiam.compare.executor as executor

    mine, versions = _head_versions(tmp_path)
    launched = []
    plain = _fake_launch(launched)

    def launch(job, runs, logs, env):
        edited = job.row == "mine" and job.seed == 1
        if edited:   # the run reads the file just after an edit
            mine.write_bytes(versions[1])
            if outcome == "refused":   # as nasiam exits on a head that does not fit (exit 2)
                launched.append(job.name)
                log = logs / f"{job.name}.log"
                log.write_text("nasiam pretrain: error: --head: its projector does not fit\n")
                return subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"]), log, False
        result = plain(job, runs, logs, env)
        if edited:   # it trained the edited file, and records its sha256
            summary = json.loads((runs / job.name / "summary.json").read_text())
            summary["head_sha256"] = "e" * 64
            (runs / job.name / "summary.json").write_text(json.dumps(summary))
        return result

    monkeypatch.setattr(executor, "_launch", launch)
    out = tmp_path / "cmp"
    argv = ["compare", "--heads", f"mine={mine},default", "--seeds", "0,1", "--out", str(out),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 6
    err = capsys.readouterr().err
    assert launched == ["mine-s0", "default-s0", "mine-s1", "default-s1"] and "Traceback" not in err
    assert "failed: mine-s1" in err and "1 of 4 runs failed" in err and "refused its options" not in err
    if outcome == "trained":
        assert "it finished, but it is not the run this comparison plans, so it is not reported" in err
        assert f"says it trained {mine} as sha256 eeeeeeeeeeee" in err
    else:
        assert f"{mine} changed since this comparison pinned it" in err
    assert {r["run"] for r in json.loads((out / "results.json").read_text())["records"]} == {
        "mine-s0", "default-s0", "default-s1"}


def test_a_killed_compares_temporary_files_are_removed_when_it_runs_again(tmp_path, capsys, monkeypatch):
    """SIGKILL while compare wrote its tables or compare.json left `.NAME.<hex>.nasiam.tmp` beside
    them forever (the runs clean their own folders, the comparison folder was cleaned by nothing).
    A run's folder is the run's: left for it to clean."""
    import nasiam.compare.executor as executor

    monkeypatch.setattr(executor, "_launch", _fake_launch([]))
    out = tmp_path / "cmp"
    (out / "heads" / "paper").mkdir(parents=True)
    (out / "runs" / "default-s0").mkdir(parents=True)
    left = [out / ".results.md.0123abcd.nasiam.tmp", out / "heads" / "paper" / ".genotype.json.89abcdef.nasiam.tmp"]
    for path in left:
        path.write_text("half")
    theirs = out / "runs" / "default-s0" / ".summary.json.0123abcd.nasiam.tmp"
    theirs.write_text("half")
    # as a run killed writing its summary leaves it: beside its last checkpoint (alone, the run
    # would refuse the folder as a user's file, and compare now says so before starting it)
    (out / "runs" / "default-s0" / "checkpoints").mkdir()
    (out / "runs" / "default-s0" / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert main(["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
                 *[f"--{k}={v}" for k, v in RUN.items()]]) == 0
    assert not any(path.exists() for path in left) and theirs.exists()
    assert "Removed 2 temporary file(s)" in capsys.readouterr().out


def test_a_heads_path_row_named_by_another_path_to_the_same_file_keeps_its_runs(tmp_path, monkeypatch):
    """The runs of `mine=/abs/run` were refused when the call was repeated as `mine=run` or
    `mine=run/genotype.json` (the same file, same sha256), with the advice to move them out and
    train them again. The pinned content decides; another file under the old name still does not pass."""
    from nasiam.presets import get_preset
    from nasiam.rundir import write_search_genotypes

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    write_search_genotypes(tmp_path / "run" / "genotype.json", "simsiam",
                           {"projector": get_preset("simsiam_projector_cifar", hidden_dim=32, out_dim=32)})
    plan, out = prepare(f"mine={tmp_path / 'run'},default", 1, tmp_path / "cmp", RUN)
    for job in plan.jobs:
        finish(job, out / "runs", {**SUMMARY, "head_sha256": job.head_sha256})
    for same in ("run", "./run/genotype.json"):
        assert len(prepare(f"mine={same},default", 1, out, RUN)[0].jobs) == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "genotype.json").write_text((tmp_path / "run" / "genotype.json").read_text() + "\n")
    (out / "compare.json").unlink()   # (else the pin itself refuses the new content first)
    with pytest.raises(ConfigError, match="mine-s0/config.yaml \\(read\\) says it was trained with --head="):
        prepare("mine=other,default", 1, out, RUN)


def _fake_start(jobs, runs, started):
    """launch.start_run without training: the run's files appear and the process exits 0 (the
    real _launch opens the log first)."""
    import subprocess
    import sys

    def start(argv, log, env):
        name = next(a.split("=", 1)[1] for a in argv if a.startswith("--run_name="))
        started.append(name)
        finish(jobs[name], runs, SUMMARY)
        return subprocess.Popen([sys.executable, "-c", "pass"])
    return start


@pytest.mark.parametrize("kind", ["link", "fifo", "folder"])
def test_a_log_planted_as_a_link_or_fifo_is_refused_and_the_other_runs_go_on(tmp_path, capsys, monkeypatch, kind):
    """compare appended a run's output through a symbolic link planted at logs/NAME.log (a file
    outside --out written) and blocked forever opening a FIFO there (the seventh probe of #33,
    C1 and C2). Now that run is not started, its log is named with the fix, nothing is written
    through it, and the other runs finish (exit 6, as for any failed run)."""
    import os
    import signal

    import nasiam.compare.executor as executor

    plan, out = prepare("default,paper", "0,", tmp_path, RUN)
    started = []
    monkeypatch.setattr(executor, "start_run", _fake_start({j.name: j for j in plan.jobs}, out / "runs", started),
                        raising=False)
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    log = out / "logs" / "default-s0.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    {"link": lambda: log.symlink_to(outside), "fifo": lambda: os.mkfifo(log), "folder": log.mkdir}[kind]()

    def hung(signum, frame):
        raise TimeoutError("compare blocked opening the planted log")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        code = main(["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
                     *[f"--{k}={v}" for k, v in RUN.items()]])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    assert code == 6, err
    assert started == ["paper-s0"] and outside.read_text() == "precious\n"
    what = {"link": "a symbolic link (to ", "fifo": "a FIFO, socket or device", "folder": "a folder"}[kind]
    assert f"its log {log} is {what}" in err, err
    assert "writes nothing through it. Remove it" in err and "refused its options" not in err


def test_a_run_still_training_from_a_killed_driver_is_named_not_started_again(tmp_path, capsys, monkeypatch):
    """A SIGKILLed driver's run trained on; the same compare then started it a second time, which
    exited 2 on the run's lock, read as "refused its options (exit 2), so every run would" (the
    seventh probe of #33, K4r), both writing one log. Now a run folder whose lock a live process
    holds is named as still running, with its pid, and the other runs go on."""
    import os

    import nasiam.compare.executor as executor
    from nasiam.runner.lock import RunDirLock

    plan, out = prepare("default,paper", "0,", tmp_path, RUN)
    started = []
    monkeypatch.setattr(executor, "start_run", _fake_start({j.name: j for j in plan.jobs}, out / "runs", started),
                        raising=False)
    argv = ["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    with RunDirLock(out / "runs" / "default-s0", "pretrain"):   # the orphan, still training
        assert main(argv) == 6
    err = capsys.readouterr().err
    assert started == ["paper-s0"], err
    # as its lock records it (#33 probe 8, E8: not assumed to be an earlier compare's)
    assert f"is in use by a run still training there, pid {os.getpid()} on " in err, err
    assert "`nasiam pretrain`" in err and "earlier compare" not in err
    assert "wait for it to end or stop it" in err and "refused its options" not in err
    assert not (out / "logs" / "default-s0.log").exists()   # not written by a second start
    assert main(argv) == 0 and started == ["paper-s0", "default-s0"]   # its lock gone: it runs


def _plant(kind: str, run) -> str:
    """Put in the run folder `run` what its run refuses (#33 probe 11, J2, J3); the words naming it."""
    import os

    from _sockets import bind_unix_socket

    run.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(run / ".lock")
        return ".lock is a FIFO (named pipe), not a nasiam lock file"
    if kind == "socket":
        bind_unix_socket(run / ".lock").close()
        return ".lock is a socket, not a nasiam lock file"
    if kind == "folder":
        (run / ".lock").mkdir()
        return ".lock is a folder, not a nasiam lock file"
    if kind == "file":   # the run folder itself a file
        run.rmdir()
        run.write_text("mine")
        return "default-s0 is a file, not a folder"
    (run / "notes.txt").write_text("mine")
    return "holds files nasiam did not write for a run (notes.txt)"


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "notes", "file"])
def test_a_run_folder_its_run_would_refuse_fails_that_run_before_any_starts(tmp_path, capsys, monkeypatch, kind):
    """A run refusing its folder (a FIFO .lock, a user's notes.txt in runs/default-s0) exits 2,
    which was read as its options' fault: "refused its options (exit 2), so every run would",
    the other rows never ran, on any rerun (#33 probe 11, H2). Now each planned folder is looked
    at before any run starts, as the run would: that run is not run (named, with the fix), the
    others finish, exit 6; what is there is left as it is."""
    import nasiam.compare.executor as executor

    plan, out = prepare("default,paper", "0,", tmp_path, RUN)
    started = []
    monkeypatch.setattr(executor, "start_run", _fake_start({j.name: j for j in plan.jobs}, out / "runs", started),
                        raising=False)
    words = _plant(kind, out / "runs" / "default-s0")
    argv = ["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 6
    err = capsys.readouterr().err
    assert started == ["paper-s0"] and "refused its options" not in err, err
    assert "not run: its run folder cannot be used: " in err and words in err, err
    assert "the other runs go on; move what is named out of the way" in err
    run = out / "runs" / "default-s0"
    assert run.read_text() == "mine" if kind == "file" else [p.name for p in run.iterdir()] == [
        "notes.txt" if kind == "notes" else ".lock"]   # left as it is


def test_a_run_refusing_a_folder_changed_after_the_check_fails_alone(tmp_path, capsys, monkeypatch):
    """A file put in a run's folder after compare looked (the run then exits 2 on it) is that
    run's failure too, not the options' (#33 probe 11, H2)."""
    import subprocess
    import sys

    import nasiam.compare.executor as executor

    launched = []
    plain = _fake_launch(launched)

    def launch(job, runs, logs, env):
        if job.name != "default-s0":
            return plain(job, runs, logs, env)
        launched.append(job.name)
        _plant("notes", runs / job.name)
        log = logs / f"{job.name}.log"
        log.write_text("nasiam pretrain: error: ... holds files nasiam did not write for a run (notes.txt)\n")
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"]), log, False

    monkeypatch.setattr(executor, "_launch", launch)
    out = tmp_path / "cmp"
    argv = ["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 6
    err = capsys.readouterr().err
    assert launched == ["default-s0", "paper-s0"] and "refused its options" not in err, err
    assert "failed: default-s0 (exit 2)" in err and "its run folder cannot be used: " in err, err


DRIVER = """
import sys, time
from nasiam.compare.launch import start_run
run = start_run([sys.executable, "-c", "import time; time.sleep(300)"], open(sys.argv[1], "a"), None)
print(run.pid, flush=True)
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    """No such process, or a zombie (dead, not yet reaped by whoever adopted it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_runs_die_with_a_driver_killed_outright(tmp_path):
    """A SIGKILLed compare left its runs training, orphaned in their own sessions (the seventh
    probe of #33, K4). A run started as compare starts them now gets SIGTERM when the driver dies."""
    import os
    import signal
    import subprocess
    import sys
    import time

    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path / "run.log")], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    run = None
    try:
        line = driver.stdout.readline()
        assert line.strip().isdigit(), driver.communicate(timeout=60)
        run = int(line)
        assert not _gone(run)
        driver.kill()
        driver.wait(timeout=30)
        deadline = time.time() + 20
        while not _gone(run) and time.time() < deadline:
            time.sleep(0.05)
        assert _gone(run), "the run outlived its driver"
    finally:
        driver.kill()
        if run is not None and not _gone(run):
            os.kill(run, signal.SIGKILL)   # (the process this test started)


def test_a_run_refused_by_a_lock_taken_after_the_check_is_not_read_as_an_option_error(tmp_path, capsys, monkeypatch):
    """Another driver's run took the folder's lock between the check and the start: the run
    exits 2 on it, and that is said as such, not "refused its options, so every run would"."""
    import subprocess
    import sys

    import nasiam.compare.executor as executor
    from nasiam.runner.lock import RunDirLock

    plan, out = prepare("default,paper", "0,", tmp_path, RUN)
    locks, started = [], []
    finished = _fake_start({j.name: j for j in plan.jobs}, out / "runs", started)

    def start(argv, log, env):
        name = next(a.split("=", 1)[1] for a in argv if a.startswith("--run_name="))
        if name != "default-s0":
            return finished(argv, log, env)
        locks.append(RunDirLock(out / "runs" / name, "pretrain").acquire())   # the other driver's run
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])
    monkeypatch.setattr(executor, "start_run", start, raising=False)
    try:
        assert main(["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
                     *[f"--{k}={v}" for k, v in RUN.items()]]) == 6
    finally:
        for lock in locks:
            lock.release()
    err = capsys.readouterr().err
    assert started == ["paper-s0"] and "refused its options" not in err, err
    assert "is in use by a run still training there, pid " in err


def _refusing_launch(launched, refused, resuming=False):
    """executor._launch without training: the runs in `refused` exit 2 as a run refusing its data
    does (the tenth probe's row whose --data_root holds an image it refuses); the others finish."""
    import subprocess
    import sys

    plain = _fake_launch(launched)

    def launch(job, runs, logs, env):
        if job.name not in refused:
            return plain(job, runs, logs, env)
        launched.append(job.name)
        log = logs / f"{job.name}.log"
        log.write_text("nasiam pretrain: error: could not read the input data (img/huge.png)\n")
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"]), log, resuming
    return launch


@pytest.mark.parametrize("heads, refused, stops", [
    ("x=default(--knn_subset=64),default", {"x-s0", "x-s1"}, False),   # the row's own options
    ("default,x=default(--knn_subset=64)", {"x-s0", "x-s1"}, False),   # ... after a common run
    ("x=MINE,default", {"x-s0", "x-s1"}, False),                       # its --heads PATH file
    ("x=default,default", {"x-s0"}, True),                             # the common options alone
    ("default,x=default", {"x-s0"}, False),                            # ... after they trained default-s0
    ("x=default,default", {"x-s0"}, "resumed")])                       # ... its own checkpoint, resumed
def test_a_row_refusing_its_own_input_fails_that_row_and_the_others_finish(tmp_path, capsys, monkeypatch, heads,
                                                                           refused, stops):
    """One row's run refusing its own input (exit 2) stopped the whole comparison as "refused its
    options (exit 2), so every run would": the other rows never ran, on this call or any rerun
    (the tenth probe of #33, G4). Now that row fails (its other seeds not started, named), the
    other rows finish, exit 6; only a refusal of the common options alone, before any run of them
    finished, stops everything (exit 2)."""
    import nasiam.compare.executor as executor

    launched = []
    monkeypatch.setattr(executor, "_launch", _refusing_launch(launched, refused, resuming=stops == "resumed"))
    mine = _head_versions(tmp_path)[0]
    heads = heads.replace("MINE", str(mine))
    out = tmp_path / "cmp"
    argv = ["compare", "--heads", heads, "--seeds", "0,1", "--out", str(out), *[f"--{k}={v}" for k, v in RUN.items()]]
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    if stops is True:
        assert code == 2 and launched == ["x-s0"] and "x-s0 refused its options (exit 2), so every run would" in err
        return
    assert code == 6, err
    assert "refused its options" not in err and "failed: x-s0 (exit 2)" in err and "could not read the input" in err
    assert "not the options every run shares: that row fails" in captured.out or refused == {"x-s0"}
    # the row's other seed, given the same options, is not started; one of the common options is
    assert sorted(launched) == sorted({"x-s0", "default-s0", "default-s1"} | ({"x-s1"} - refused))
    records = {r["run"] for r in json.loads((out / "results.json").read_text())["records"]}
    assert records == {"default-s0", "default-s1"} | ({"x-s1"} - refused)
    if "x-s1" in refused:
        assert "not run: x-s0 was refused (exit 2) on the " in err
        assert ("options --knn_subset=64" if "(" in heads else f"head file {mine}") + " of row 'x'" in err
        assert "2 of 4 runs failed" in err
    else:
        assert ("the checkpoint it resumed" if stops else "a run of the same common options finished in this call"
                ) in captured.out
        assert "1 of 4 runs failed" in err


@pytest.mark.parametrize("version, words", [
    (99, "was written by a newer nasiam (schema_version 99; this one reads 1): upgrade nasiam"),
    ("1", "is damaged: its schema_version is '1', not the integer 1 nasiam writes"),
    (1.0, "is damaged: its schema_version is 1.0, not the integer 1"),
    (None, "is damaged: its schema_version is None, not the integer 1"),
    (True, "is damaged: its schema_version is True, not the integer 1")])
def test_a_compare_json_of_another_schema_version_is_refused_and_left_as_it_is(tmp_path, capsys, version, words):
    """compare.json's schema_version was never read: a newer nasiam's record (99) or a damaged
    one ("1") was taken for this version's and rewritten as it, dropping what this nasiam does
    not know (the tenth probe of #33, G7). Now it is refused (exit 2) naming the file and the fix,
    as genotype files and checkpoints are, and nothing is rewritten."""
    prepare("default", "0,", tmp_path, RUN)
    path = tmp_path / "compare.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = version
    if version is None:
        del manifest["schema_version"]
    path.write_text(json.dumps({**manifest, "from_a_newer_nasiam": {"x": 1}}))
    before = path.read_bytes()
    argv = ["compare", "--heads", "default", "--seeds", "0,", "--out", str(tmp_path), "--report_only",
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path} (read) {words}" in err and "Nothing was written" in err and "Traceback" not in err, err
    assert path.read_bytes() == before and not (tmp_path / "results.md").exists()


def test_a_compare_json_with_a_field_nasiam_does_not_write_is_refused_and_left_as_it_is(tmp_path, capsys):
    """An unknown top-level field ("evil") was accepted and dropped by the rewrite (#33 probe 11,
    H3; the tenth's G7/CJ3): refused as a newer schema_version is, the field named, nothing written."""
    prepare("default", "0,", tmp_path, RUN)
    path = tmp_path / "compare.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "evil": {"x": 1}, "esc\x1b[2J": 0}))
    before = path.read_bytes()
    argv = ["compare", "--heads", "default", "--seeds", "0,", "--out", str(tmp_path), "--report_only",
            *[f"--{k}={v}" for k, v in RUN.items()]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path} (read) has fields this nasiam does not write ('esc\\x1b[2J', 'evil')" in err, err
    assert "Nothing was written" in err and "\x1b" not in err
    assert path.read_bytes() == before and not (tmp_path / "results.md").exists()


@pytest.mark.parametrize("content", ["hello, not json\n", '{"pid": 1}', '{"pid": 1, "host": "h", "since": 0, "comm'])
def test_a_run_folder_locked_by_another_program_is_not_called_empty_or_a_run(tmp_path, capsys, monkeypatch, content):
    """A live process holding runs/NAME/.lock with its own text (or a record cut short) was
    described as "another process (its lock file is empty: it is just starting)" (the tenth probe
    of #33, G5). Now it is said as it is: a process nasiam could not identify, no nasiam record."""
    import fcntl

    import nasiam.compare.executor as executor

    plan, out = prepare("default,paper", "0,", tmp_path, RUN)
    started = []
    monkeypatch.setattr(executor, "start_run", _fake_start({j.name: j for j in plan.jobs}, out / "runs", started),
                        raising=False)
    lock = out / "runs" / "default-s0" / ".lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(content)
    with open(lock) as held:   # another program's lock, held
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
                     *[f"--{k}={v}" for k, v in RUN.items()]]) == 6
    err = capsys.readouterr().err
    assert started == ["paper-s0"], err
    assert ("is in use by a process nasiam could not identify (its lock file holds no nasiam owner record): "
            "wait for it to end or stop it") in err, err
    assert "empty" not in err and "still training" not in err and lock.read_text() == content
    (out / ".lock").write_text(content)   # the comparison's own lock, another program's file held by nobody
    assert main(["compare", "--heads", "default,paper", "--seeds", "0,", "--out", str(out),
                 *[f"--{k}={v}" for k, v in RUN.items()]]) == 2
    err = capsys.readouterr().err
    assert f"{out / '.lock'} is not a nasiam lock file" in err and "choose another --out" in err, err
    assert "in use" not in err and (out / ".lock").read_text() == content
    from nasiam.runner.lock import describe_holder

    lock.write_text("")   # a nasiam run that has just taken its lock, before it writes its record
    assert describe_holder(lock) == "another process (its lock file is empty: it is just starting)"


def test_a_report_to_an_ascii_or_latin_1_stdout_is_written_escaped(tmp_path, monkeypatch):
    """The report's ± and — to a standard output in ASCII or Latin-1 (PYTHONIOENCODING, a Latin-1
    locale) ended in a UnicodeEncodeError traceback, exit 1 (#33 probe 12, I1): the terminal's
    copy is escaped, results.md on disk stays UTF-8."""
    plan, _ = prepare("default,random:1", "0,1", tmp_path, RUN)
    for i, job in enumerate(plan.jobs):
        finish(job, tmp_path / "runs", {"linear_top1": 80.0 + i, "train_seconds": 10.0, "heads": {"projector": job.head_id}})
    argv = ["compare", "--heads", "default,random:1", "--seeds", "0,1", "--out", str(tmp_path), "--report_only",
            *[f"--{k}={v}" for k, v in RUN.items()]]
    for encoding in ("ascii", "latin-1"):
        stdout = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
        monkeypatch.setattr(sys, "stdout", stdout)
        assert main(argv) == 0
        stdout.flush()
        shown = stdout.buffer.getvalue().decode(encoding)
        on_disk = (tmp_path / "results.md").read_text(encoding="utf-8")
        assert "±" in on_disk and "—" in on_disk
        assert "\\u2014" in shown and f"{len(plan.jobs)} of {len(plan.jobs)} runs have finished" in shown
        assert ("\\xb1" if encoding == "ascii" else "±") in shown
