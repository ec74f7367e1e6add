import math
import random
import re

import pytest
import torch
import torch.nn as nn

from nasiam import NASHead, SearchableHead
from nasiam.space import Genotype, GenotypeError, LayerSpec, MLPSpace, NASiamSpace
from nasiam.space.nasiam_paper import PAPER_OPS

SMALL = MLPSpace(widths=(8, 16, 32))


def _train_a_little(head, in_dim, steps=3):
    """Move weights, BN statistics and biases away from their initial values."""
    opt = torch.optim.SGD(head.weight_parameters(), lr=0.1)
    head.train()
    for _ in range(steps):
        opt.zero_grad()
        head(torch.randn(16, in_dim) * 2 + 0.5).pow(2).mean().backward()
        opt.step()


def _set_random_decisions(head, rng, peak=1e4):
    for layer in head.searchable_layers():
        for logits in layer.arch.values():
            with torch.no_grad():
                logits.zero_()
                logits[rng.randrange(logits.numel())] = peak


CONFIGS = [
    dict(in_dim=12, out_dim=10, num_layers=2, space=SMALL, output_norm="batchnorm_noaffine"),
    dict(in_dim=40, out_dim=6, num_layers=3, space=SMALL, output_norm="none"),  # in > max width: no skip at layer 0
    dict(in_dim=16, out_dim=16, num_layers=1, space=MLPSpace(widths=(4, 16), norms=("layernorm", "batchnorm")),
         output_norm="layernorm", output_activation="gelu"),
    dict(in_dim=8, out_dim=20, num_layers=3, space=NASiamSpace(), output_norm="batchnorm_noaffine"),
    dict(in_dim=20, out_dim=20, num_layers=4, space=NASiamSpace(hidden_dim=6), output_layer=False),
    dict(in_dim=6, out_dim=12, num_layers=2, space=NASiamSpace(hidden_dim=9), output_layer=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c['space'].name}-{c['in_dim']}-{c['num_layers']}")
def test_export_equals_supernet_with_one_hot_alphas(config):
    rng = random.Random(0)
    for trial in range(12):
        torch.manual_seed(trial)
        head = SearchableHead(**config)
        _train_a_little(head, config["in_dim"])
        _set_random_decisions(head, rng)
        exported = head.export()
        assert isinstance(exported, NASHead)
        head.eval(), exported.eval()
        x = torch.randn(32, config["in_dim"]) * 2 + 0.5
        with torch.no_grad():
            for mode in ("softmax", "argmax"):  # peaked softmax is one-hot in float32
                head.set_sampling(mode)
                torch.testing.assert_close(exported(x), head(x), atol=1e-5, rtol=1e-5)


def test_exported_head_is_made_of_standard_layers_only():
    head = SearchableHead(12, 10, 2, SMALL, output_norm="batchnorm_noaffine")
    _set_random_decisions(head, random.Random(3))
    allowed = (nn.Sequential, nn.Linear, nn.BatchNorm1d, nn.LayerNorm, nn.ReLU, nn.GELU, nn.SiLU, nn.Hardswish,
               nn.ELU, nn.Mish, nn.LeakyReLU, nn.AvgPool1d, nn.MaxPool1d)
    for module in head.export().modules():
        assert isinstance(module, allowed), type(module)


def test_export_keeps_the_supernet_weights_sliced():
    head = SearchableHead(12, 10, 1, MLPSpace(widths=(8, 16), allow_skip=False), output_norm="none")
    _train_a_little(head, 12)
    for logits, index in zip(head.searchable_layers()[0].arch.values(), (0, 0, 0)):
        with torch.no_grad():
            logits.zero_()
            logits[index] = 5.0
    g = head.genotype()
    assert [layer.width for layer in g.layers] == [8, 10]
    exported = head.export(g)
    supernet = head.searchable_layers()[0].linear
    torch.testing.assert_close(exported[0].linear.weight, supernet.weight[:8])
    torch.testing.assert_close(exported[1].linear.weight, head.layers[1].block.linear.weight[:, :8])


def test_arch_and_weight_parameters_are_disjoint_and_complete():
    head = SearchableHead(12, 10, 2, SMALL)
    arch = dict(head.named_arch_parameters())
    weights = dict(head.named_weight_parameters())
    assert set(arch).isdisjoint(weights)
    assert set(arch) | set(weights) == {n for n, _ in head.named_parameters()}
    assert set(arch) == {f"layers.{i}.arch.{c}" for i in (0, 1) for c in ("keep", "width", "norm", "activation")}
    assert all(p.numel() == n for p, n in zip(
        [arch["layers.0.arch.width"], arch["layers.0.arch.norm"], arch["layers.0.arch.activation"]], (3, 3, 8)))


@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
def test_gradients_reach_every_architecture_logit(mode):
    head = SearchableHead(12, 10, 2, SMALL, output_norm="batchnorm").set_sampling(mode, tau=1.0)
    grads = {n: torch.zeros_like(p) for n, p in head.named_arch_parameters()}
    for _ in range(20 if mode == "gumbel" else 1):
        head.zero_grad()
        head(torch.randn(16, 12)).pow(2).sum().backward()
        for n, p in head.named_arch_parameters():
            # a Gumbel sample that skips a layer leaves that layer's other choices unused
            if p.grad is not None:
                grads[n] += p.grad.abs()
    assert all(g.sum() > 0 for g in grads.values())


def test_genotype_ranks_options_and_top_k_truncates():
    head = SearchableHead(12, 10, 1, SMALL)
    with torch.no_grad():
        head.searchable_layers()[0].arch["width"].copy_(torch.tensor([0.0, 2.0, 1.0]))
    g = head.genotype(top_k=2)
    width = g.decisions[0]["width"]
    assert [opt for opt, _ in width] == [16, 32]
    assert width[0][1] > width[1][1]
    assert g.layers[0].width == 16
    assert g.space == SMALL.to_dict()
    assert len(head.genotype().decisions[0]["activation"]) == 8


def test_top_genotypes_are_distinct_sorted_and_exportable():
    head = SearchableHead(12, 10, 2, SMALL)
    for p in head.arch_parameters():
        with torch.no_grad():
            p.normal_()
    top = head.top_genotypes(5)
    probs = [g.meta["joint_probability"] for g in top]
    assert probs == sorted(probs, reverse=True)
    assert len({g.to_json() for g in top}) == 5
    assert top[0].layers == head.genotype().layers
    for g in top:
        assert head.export(g).genotype.layers == g.layers


def test_export_rejects_a_genotype_from_another_space():
    head = SearchableHead(12, 10, 2, SMALL)
    other = SearchableHead(12, 10, 1, SMALL).genotype()
    with pytest.raises(GenotypeError, match="2 searchable layers"):
        head.export(other)
    hand_written = Genotype(layers=(LayerSpec(width=10),))
    with pytest.raises(GenotypeError, match="records none decisions"):
        head.export(hand_written)
    g = head.genotype().to_dict()
    g["decisions"][0]["width"][0][0] = 12
    with pytest.raises(GenotypeError, match=r"decisions\[0\].width: 12 is not one of"):
        head.export(Genotype(layers=head.genotype().layers, decisions=g["decisions"]))


def test_gumbel_and_argmax_modes_skip_unselected_work():
    head = SearchableHead(12, 10, 1, SMALL).set_sampling("argmax")
    layer = head.searchable_layers()[0]
    with torch.no_grad():
        layer.arch["keep"].copy_(torch.tensor([0.0, 5.0]))  # skip the layer
    calls = []
    layer.linear.register_forward_hook(lambda *a: calls.append(1))
    head(torch.randn(4, 12))
    assert calls == []  # the skipped layer's Linear never ran
    assert head.genotype().describe() == "linear10"


def test_invalid_arguments_are_reported():
    with pytest.raises(ValueError, match=r"in_dim must be an integer in \[1, 65536\], got 0"):
        SearchableHead(0, 10)
    with pytest.raises(ValueError, match="unknown sampling mode"):
        SearchableHead(4, 4).set_sampling("annealed")
    # a bad argument like any other (it was a KeyError, which `except ValueError` missed)
    with pytest.raises(ValueError, match=r"unknown search space 'transformer'; known: mlp, nasiam, siam"):
        SearchableHead(4, 4, space="transformer")
    with pytest.raises(ValueError, match="expects \\(batch, 4\\)"):
        SearchableHead(4, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="fixed output layer"):
        SearchableHead(4, 4, space=SMALL, output_layer=False)
    with pytest.raises(ValueError, match="cannot be searched"):
        from nasiam.space import registry
        registry.register_norm("test_groupish", lambda w: nn.LayerNorm(w), per_channel=False)
        try:
            MLPSpace(norms=("test_groupish",))
        finally:
            registry._NORMS.pop("test_groupish")


def test_all_paper_ops_are_searchable_in_every_width_case():
    for in_dim, out_dim in ((8, 8), (8, 4), (4, 8)):
        head = SearchableHead(in_dim, out_dim, 1, NASiamSpace(hidden_dim=out_dim), output_layer=False)
        assert head.searchable_layers()[0].choices["op"] == PAPER_OPS
        y = head(torch.randn(5, in_dim))
        assert y.shape == (5, out_dim)


def test_fixed_sampling_runs_the_given_path_and_validates_it():
    head = SearchableHead(12, 10, 2, SMALL)
    decisions = [{"keep": True, "width": 8, "norm": "layernorm", "activation": "gelu"},
                 {"keep": False, "width": 32, "norm": "none", "activation": "relu"}]
    head.set_sampling("fixed", decisions=decisions)
    g = Genotype(layers=head.genotype().layers, decisions=[{k: [[v, 1.0]] for k, v in d.items()} for d in decisions])
    exported = head.export(g).eval()
    head.eval()
    x = torch.randn(5, 12)
    torch.testing.assert_close(head(x), exported(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one decision per searchable layer"):
        head.set_sampling("fixed", decisions=decisions[:1])
    with pytest.raises(ValueError, match="does not match"):
        head.set_sampling("fixed", decisions=[{**decisions[0], "width": 7}, decisions[1]])


def test_commit_decisions_writes_the_logits_that_genotype_export_and_a_checkpoint_read():
    # the runner wrote these logits itself (runner/search.py, multi_trial.py); now the head does
    head = SearchableHead(12, 10, 2, SMALL)
    decisions = [{"keep": True, "width": 8, "norm": "layernorm", "activation": "gelu"}, {"width": 32}]
    second = head.searchable_layers()[1]
    torch.manual_seed(0)
    with torch.no_grad():   # logits a search has moved (they start at zero)
        for logits in second.arch.values():
            logits.normal_()
    untouched = {k: v.detach().clone() for k, v in second.arch.items() if k != "width"}
    assert head.commit_decisions(decisions) is head
    ranked = head.genotype().decisions
    assert {k: r[0][0] for k, r in ranked[0].items()} == decisions[0] and ranked[1]["width"][0][0] == 32
    assert all(torch.equal(second.arch[k], v) for k, v in untouched.items())   # a choice left out: as it was
    assert all(p.requires_grad for p in head.arch_parameters())   # still the logits a search trains
    with pytest.raises(ValueError, match="one decision per searchable layer"):
        head.commit_decisions(decisions[:1])
    with pytest.raises(ValueError, match="does not match"):
        head.commit_decisions([{"width": 7}, {}])
    with pytest.raises(ValueError, match="does not match"):
        head.commit_decisions([{"depth": 2}, {}])


def test_fixed_decisions_is_a_copy_that_set_sampling_takes_back():
    head = SearchableHead(12, 10, 2, SMALL)
    assert head.fixed_decisions is None
    decisions = [{"keep": True, "width": 8, "norm": "layernorm", "activation": "gelu"},
                 {"keep": False, "width": 32, "norm": "none", "activation": "relu"}]
    head.set_sampling("fixed", decisions=decisions)
    saved = head.fixed_decisions
    saved[0]["width"] = 16
    assert head.fixed_decisions == decisions
    head.set_sampling("uniform").set_sampling("fixed", decisions=head.fixed_decisions)
    assert head.fixed_decisions == decisions


def test_uniform_sampling_visits_every_option():
    head = SearchableHead(12, 10, 1, SMALL).set_sampling("uniform")
    seen = set()
    for _ in range(60):
        with head.shared_sample():
            head(torch.randn(4, 12))
            seen.add(head.current_decisions()[0]["width"])
    assert seen == {8, 16, 32}


def test_top_genotypes_sum_out_the_choices_of_a_skipped_layer():
    head = SearchableHead(12, 10, 1, SMALL)
    layer = head.searchable_layers()[0]
    with torch.no_grad():
        layer.arch["keep"].copy_(torch.tensor([0.0, 2.0]))  # p(skip) = 0.88
    top = head.top_genotypes(4)
    assert len({g.describe() for g in top}) == 4  # no duplicates
    assert top[0].describe() == "linear10"
    assert top[0].meta["joint_probability"] == pytest.approx(torch.softmax(torch.tensor([0.0, 2.0]), 0)[1].item(),
                                                             abs=1e-5)
    assert sum(g.meta["joint_probability"] for g in head.top_genotypes(200)) == pytest.approx(1.0, abs=1e-4)


def test_gumbel_straight_through_gradient_reaches_the_keep_logits_of_a_kept_layer():
    """A sampled path that keeps a layer still trains its keep/skip logits: the kept output is
    scaled by the straight-through weight keep[0] (1 in value, the softmax's gradient)."""
    head = SearchableHead(12, 10, 2, SMALL, output_norm="none")
    layers = head.searchable_layers()
    with torch.no_grad():
        for layer in layers:
            layer.arch["keep"].copy_(torch.tensor([6.0, -6.0]))  # p(sampling skip) ~ 6e-6
    head.set_sampling("gumbel", tau=1.0).train()
    with head.shared_sample():
        head(torch.randn(16, 12)).pow(2).mean().backward()
        assert [d["keep"] for d in head.current_decisions()] == [True, True]  # both layers kept
    for layer in layers:
        grad = layer.arch["keep"].grad
        assert grad is not None and grad.abs().sum() > 0

    # the layer alone, with a straight-through weight as a leaf: d out.sum() / d keep[0] = out.sum()
    layer = layers[0]
    keep = torch.tensor([1.0, 0.0], requires_grad=True)
    weights = {"keep": keep, **{k: torch.eye(v.numel())[0] for k, v in layer.arch.items() if k != "keep"}}
    out = layer(torch.randn(4, 12), weights, {name: 0 for name in layer.arch})
    out.sum().backward()
    assert keep.grad is not None
    torch.testing.assert_close(keep.grad, torch.stack([out.sum().detach(), torch.tensor(0.0)]))


@pytest.mark.parametrize("space", [42, 3.5, object(), MLPSpace])
def test_a_space_that_is_neither_a_space_nor_a_name_is_a_type_error_naming_both(space):
    """`SearchableHead(space=42)` failed inside the space lookup with an AttributeError ('int'
    object has no attribute ...) (#33, found by an independent probe); the class instead of an
    instance likewise."""
    with pytest.raises(TypeError, match="space must be a SearchSpace, a registered space's name \\(.*mlp.*\\) or "
                                        f"None \\(the mlp space\\), not {type(space).__name__}"):
        SearchableHead(8, 8, 1, space=space)



@pytest.mark.parametrize("call, words", [
    (lambda h, d: h.genotype(top_k=0), "top_k must be an integer >= 1 or None"),   # was IndexError
    (lambda h, d: h.genotype(top_k=-1), "top_k must be an integer >= 1 or None"),  # dropped the last option
    (lambda h, d: h.genotype(top_k=2.5), "top_k must be an integer >= 1 or None"),  # was TypeError from a slice
    (lambda h, d: h.top_genotypes(2.5), "k must be an integer >= 1"),
    (lambda h, d: h.top_genotypes(True), "k must be an integer >= 1"),
    (lambda h, d: h.commit_decisions(d, margin=-10.0), "margin must be a positive, finite number"),
    (lambda h, d: h.commit_decisions(d, margin=float("nan")), "margin must be a positive, finite number"),
    (lambda h, d: h.commit_decisions(d, margin=float("inf")), "margin must be a positive, finite number"),
])
def test_counts_and_margins_that_cannot_mean_anything_are_refused_by_name(call, words):
    """The fifth probe of #33: `genotype(top_k=0)` raised IndexError (the Lightning callback's
    `top_k=0` only failed after training), and `commit_decisions(margin=-10)` wrote the opposite
    of the decision into the logits, NaN or inf made every probability NaN."""
    head = SearchableHead(8, 4, 2, space=MLPSpace(widths=(4, 8)))
    decisions = [{name: options[-1] for name, options in layer.choices.items()} for layer in head.searchable_layers()]
    before = {n: p.detach().clone() for n, p in head.named_arch_parameters()}
    with pytest.raises(ValueError, match=words):
        call(head, decisions)
    assert all(torch.equal(before[n], p) for n, p in head.named_arch_parameters())   # nothing written
    head.commit_decisions(decisions, margin=3)   # a positive margin commits the decision itself
    assert [{c: r[0][0] for c, r in d.items()} for d in head.genotype(top_k=1).decisions] == decisions


@pytest.mark.parametrize("call, words", [
    (lambda: MLPSpace(widths=5), "widths: expected a list of widths (integers), got 5 (type int)"),
    (lambda: MLPSpace(widths=(8, "16")), "widths: expected a list of widths (integers), got '16' (type str) at position 1"),
    (lambda: MLPSpace(norms=[["batchnorm"]]), "norms: expected a list of norms (names), got ['batchnorm'] (type list) at "
                                              "position 0"),
    (lambda: MLPSpace(activations={"relu"}), "activations: expected a list of activations (names), got {'relu'} (type set)"),
    (lambda: SearchableHead(8, 4, 1, SMALL).set_sampling("gumbel", tau="1"),
     "tau must be a positive, finite number, got '1' (type str)"),
    (lambda: SearchableHead(8, 4, 1, SMALL).set_sampling("gumbel", tau=float("inf")), "tau must be a positive, finite"),
    (lambda: SearchableHead(8, 4, 2, SMALL).set_sampling("fixed", decisions=[5, 5]),
     r"decisions\[0\] must be a mapping \{choice: option\} .*, got 5 \(type int\)"),
    (lambda: SearchableHead(8, 4, 2, SMALL).set_sampling("fixed", decisions=5), r"decisions must be a list of \{choice"),
    (lambda: SearchableHead(8, 4, 2, SMALL).commit_decisions([["width"], {}]),
     r"decisions\[0\] must be a mapping \{choice: option\} .*, got \['width'\] \(type list\)"),
    (lambda: SearchableHead(8, 4, 2, SMALL).commit_decisions([{}, {}], margin="3"),
     "margin must be a positive, finite number, got '3' (type str)"),
], ids=["widths=5", "width str", "norms nested", "activations set", "tau str", "tau inf", "decisions ints",
        "decisions int", "commit list", "margin str"])
def test_arguments_of_the_wrong_type_are_named_with_what_they_take(call, words):
    """`MLPSpace(widths=5)`, `norms=[["batchnorm"]]`, `set_sampling("gumbel", tau="1")` and
    `set_sampling("fixed", decisions=[5, 5])` raised Python's TypeErrors ("'int' object is not
    iterable", "unhashable type") naming no argument (the fifth probe of #33). One set of checks
    (nasiam._arguments) names the argument, what it got and what it takes, as a ValueError."""
    import re

    with pytest.raises(ValueError, match=words if "\\" in words else re.escape(words)):
        call()


@pytest.mark.parametrize("value", ["no", 1, None])
def test_output_layer_must_be_a_bool(value):
    """output_layer="no" was read as true: a head ending in the output layer it was asked to
    leave out (the seventh probe of #33, B2)."""
    with pytest.raises(ValueError, match=f"output_layer must be True or False, got {value!r}"):
        SearchableHead(16, 8, output_layer=value)


@pytest.mark.parametrize("option, value", [("output_norm", None), ("output_norm", 5), ("output_activation", None),
                                           ("output_activation", ["relu"]), ("output_bias", "no")])
def test_output_options_of_the_wrong_type_are_named(option, value):
    """output_norm=None raised AttributeError "'NoneType' object has no attribute 'startswith'"
    from the default bias (the seventh probe of #33, B6); each output option is named now."""
    with pytest.raises(ValueError, match=f"^{option} must be "):
        SearchableHead(16, 8, **{option: value})


def test_a_layer_spec_with_a_null_norm_names_the_norm():
    """LayerSpec's default bias read the norm before it was checked (B6's root)."""
    with pytest.raises(GenotypeError, match="LayerSpec.norm: expected a string, got NoneType"):
        LayerSpec(width=8, norm=None)


def test_a_genotypes_meta_must_be_a_mapping():
    """genotype(meta="text") raised dict()'s "dictionary update sequence element #0 has length 1;
    2 is required", naming no argument (the seventh probe of #33, B19)."""
    head = SearchableHead(16, 8, num_layers=1, space=SMALL)
    for call in (lambda: head.genotype(meta="text"), lambda: head.top_genotypes(2, meta=[1, 2]),
                 lambda: head.random_canonical_genotype(random.Random(0), meta="x")):
        with pytest.raises(ValueError, match="meta must be a mapping"):
            call()
    assert head.genotype(meta={"seed": 0}).meta == {"seed": 0}


def test_numpy_and_torch_integers_and_numpy_bools_are_taken_as_python_ones():
    """probe 8 E7 (L1, L2, L4, L7): "in_dim must be an integer in [1, 65536], got np.int64(16)" and
    "output_bias must be True or False ..., got np.False_ (type bool)" contradicted themselves."""
    np = pytest.importorskip("numpy")
    head = SearchableHead(np.int64(12), torch.tensor(8), np.int32(1), MLPSpace(widths=[np.int64(8), 16]),
                          output_bias=np.False_, output_layer=np.True_)
    assert (head.in_dim, head.out_dim) == (12, 8) and type(head.in_dim) is int
    assert head.space.widths == (8, 16) and all(type(w) is int for w in head.space.widths)
    genotype = head.genotype(top_k=np.int64(1))
    assert genotype.layers[-1].bias is False and genotype.to_json()   # plain JSON values
    assert NASHead.from_genotype(genotype, np.int64(12)).in_dim == 12
    for bad, shown in ((True, "True (type bool)"), (12.0, "12.0 (type float)"), (torch.tensor(True), "type Tensor")):
        with pytest.raises(ValueError, match=f"in_dim must be an integer in .*{re.escape(shown)}"):
            SearchableHead(bad, 8)
    with pytest.raises(ValueError, match=r"got np.int64\(2\) \(type numpy.int64\) at position 0"):
        MLPSpace(norms=[np.int64(2)])


def test_numpy_and_torch_floats_are_taken_as_python_ones():
    """probe 9 F5 (M10, M11): `set_sampling("gumbel", tau=np.float32(0.5))` and `tau=torch.tensor(0.5)`
    were refused as "tau must be a positive, finite number, got np.float32(0.5)", contradicting
    themselves (E7's float twin). Real numbers are taken, as a float; a bool, NaN, inf, zero or a
    tensor of more values than one still refused by name."""
    np = pytest.importorskip("numpy")
    for tau in (np.float32(0.5), np.float16(0.5), torch.tensor(0.5), torch.tensor([0.5], dtype=torch.float64),
                np.array(0.5), np.int64(2)):
        head = SearchableHead(8, 4, 1, SMALL).set_sampling("gumbel", tau=tau)
        assert type(head.tau) is float and head.tau == float(tau)
    head = SearchableHead(8, 4, 2, SMALL)
    decisions = [{name: options[-1] for name, options in layer.choices.items()} for layer in head.searchable_layers()]
    head.commit_decisions(decisions, margin=torch.tensor(3.0))
    assert [{c: r[0][0] for c, r in d.items()} for d in head.genotype(top_k=1).decisions] == decisions
    for bad in (np.True_, torch.tensor(True), np.float32("nan"), torch.tensor(math.inf), np.float64(0.0),
                torch.tensor(-1.0), torch.tensor([0.5, 0.5]), 1 + 2j):
        with pytest.raises(ValueError, match="tau must be a positive, finite number, got "):
            SearchableHead(8, 4, 1, SMALL).set_sampling("gumbel", tau=bad)


def test_top_genotypes_refuses_more_than_its_maximum_and_returns_a_whole_small_space():
    """#33 probe 14, K5: `top_genotypes(k)` had no bound: a 4-layer head's `top_genotypes(10**6)`
    ran out of memory after 47 s (8 GB limit). More than MAX_TOP_GENOTYPES is refused at once; a
    k beyond what the space ranks returns all of it, as before."""
    with pytest.raises(ValueError, match=r"k=1,000,000 asks for more than 10,000 genotypes \(this head ranks "
                                         r"88,529,281 layer assignments"):
        SearchableHead(16, 8, num_layers=4).top_genotypes(10**6)
    from nasiam.head.searchable import MAX_TOP_GENOTYPES

    assert MAX_TOP_GENOTYPES == 10_000
    small = SearchableHead(8, 4, 1, SMALL)
    assert len(small.top_genotypes(10**9)) == len(small.top_genotypes(MAX_TOP_GENOTYPES)) == small.canonical_count()


def test_random_canonical_genotype_names_a_generator_that_is_not_one():
    """#33 probe 14, K13 (SH23): `random_canonical_genotype(0)` was a raw AttributeError "'int'
    object has no attribute 'choice'"."""
    with pytest.raises(ValueError, match=r"generator must be a random.Random \(random.Random\(seed\) reproduces a "
                                         r"draw\), got 0 \(type int\)"):
        SearchableHead(8, 4, 1, SMALL).random_canonical_genotype(0)
    assert SearchableHead(8, 4, 1, SMALL).random_canonical_genotype(random.Random(0)) is not None
