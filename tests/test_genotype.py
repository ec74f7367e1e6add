import json
import os
import re
import resource
import time

import pytest
import torch

from nasiam import NASHead
from nasiam.space import Genotype, GenotypeError, LayerSpec, MLPSpace, NASiamSpace
from nasiam.space.genotype import MAX_FILE_BYTES, MAX_WIDTH


def _genotype(**kw):
    layers = (LayerSpec(width=64, norm="batchnorm", activation="relu"),
              LayerSpec(width=32, norm="batchnorm_noaffine", fixed=True))
    return Genotype(layers=layers, **kw)


def _valid_dict():
    return _genotype(in_dim=16, space=MLPSpace(widths=(32, 64), activations=("relu", "identity")).to_dict(),
                     decisions=[{"width": [[64, 0.9], [32, 0.1]]}], meta={"framework": "simsiam"}).to_dict()


def test_json_round_trip_is_lossless(tmp_path):
    g = Genotype.from_dict(_valid_dict())
    assert Genotype.from_json(g.to_json()) == g
    g.save(tmp_path / "g.json")
    assert Genotype.load(tmp_path / "g.json") == g
    assert json.loads((tmp_path / "g.json").read_text())["schema_version"] == 1


def test_bias_defaults_follow_the_norm():
    assert LayerSpec(width=4, norm="batchnorm").bias is False
    assert LayerSpec(width=4, norm="layernorm").bias is True
    assert LayerSpec(width=4).bias is True
    assert LayerSpec(width=4, op="avgpool_3x3").bias is False
    d = _valid_dict()
    del d["layers"][0]["bias"]
    assert Genotype.from_dict(d).layers[0].bias is False


def test_describe_and_out_dim():
    g = _genotype()
    assert g.describe() == "linear64-batchnorm-relu > linear32-batchnorm_noaffine"
    assert g.out_dim == 32
    assert g.num_parameters(16) == 16 * 64 + 2 * 64 + 64 * 32


def _mutate(path, value):
    d = _valid_dict()
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize("path,value,field,message", [
    (["layers", 0, "op"], "conv3x3", "layers[0].op", "unknown op"),
    (["layers", 0, "norm"], "groupnorm", "layers[0].norm", "unknown norm"),
    (["layers", 0, "activation"], "__import__('os').system('echo pwned')", "layers[0].activation", "too long|unknown"),
    (["layers", 0, "activation"], "swish2", "layers[0].activation", "unknown activation"),
    (["layers", 0, "width"], "64", "layers[0].width", "expected an integer"),
    (["layers", 0, "width"], True, "layers[0].width", "expected an integer"),
    (["layers", 0, "width"], 64.0, "layers[0].width", "expected an integer"),
    (["layers", 0, "width"], 0, "layers[0].width", "out of range"),
    (["layers", 0, "width"], MAX_WIDTH + 1, "layers[0].width", "out of range"),
    (["layers", 0, "width"], 10 ** 30, "layers[0].width", "out of range"),
    (["layers", 0, "bias"], "yes", "layers[0].bias", "true or false"),
    (["layers", 0, "kernel"], 3, "layers[0]", "unknown field"),
    (["layers", 0], "linear", "layers[0]", "expected an object"),
    (["layers"], [], "layers", "at least one layer"),
    (["layers"], {"0": 1}, "layers", "expected a list"),
    (["schema_version"], 2, "schema_version", "upgrade nasiam"),
    # no version nasiam wrote: upgrading would not help (was told to upgrade nasiam)
    (["schema_version"], 0, "schema_version", "0 is not a valid schema version .nasiam writes the integer 1."),
    (["schema_version"], "1", "schema_version", "'1' is not a valid schema version"),
    (["schema_version"], -1, "schema_version", "export the head again"),
    (["format"], "pickle", "format", "not a nasiam genotype"),
    (["in_dim"], -3, "in_dim", "out of range"),
    (["layers", 0, "width"], 48, "layers[0].width", "not in the space's widths"),
    (["layers", 0, "activation"], "gelu", "layers[0].activation", "not in the space's activations"),
    (["space", "name"], "transformer", "space.name", "unknown search space"),
    (["decisions"], [{"width": [[64, 1.5]]}], "decisions[0].width[0]", "probability"),
    (["decisions"], [{"width": [["a", "b", "c"]]}], "decisions[0].width[0]", "pair"),
    (["meta"], {"a": [[[[[[1]]]]]]}, "meta", "nested deeper"),
])
def test_each_validation_error_names_the_field(path, value, field, message):
    with pytest.raises(GenotypeError, match=message) as info:
        Genotype.from_dict(_mutate(path, value))
    assert str(info.value).startswith(field), str(info.value)


def test_missing_and_unknown_top_level_fields():
    with pytest.raises(GenotypeError, match="missing field"):
        Genotype.from_dict({"schema_version": 1})
    with pytest.raises(GenotypeError, match="unknown field.*'code'"):
        Genotype.from_dict({**_valid_dict(), "code": "print(1)"})
    with pytest.raises(GenotypeError, match="expected an object"):
        Genotype.from_dict([1, 2, 3])


def test_dims_are_checked_against_the_input_width():
    pool_after_linear = Genotype(layers=(LayerSpec(width=8), LayerSpec(op="maxpool_3x3", width=8)))
    pool_after_linear.validate(in_dim=4)
    bad_pool = Genotype(layers=(LayerSpec(width=8), LayerSpec(op="maxpool_3x3", width=6)))
    with pytest.raises(GenotypeError, match=r"layers\[1\].width: maxpool_3x3 keeps the width"):
        bad_pool.validate(in_dim=4)
    with pytest.raises(GenotypeError, match="saved for 16 input features, not 8"):
        NASHead(Genotype.from_dict(_valid_dict()), in_dim=8)
    with pytest.raises(GenotypeError, match="pass in_dim"):
        NASHead(_genotype())


def test_absurd_total_size_is_refused_before_allocating():
    huge = Genotype(layers=tuple(LayerSpec(width=MAX_WIDTH, norm="batchnorm") for _ in range(4)))
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GenotypeError, match="parameters exceed the limit"):
        NASHead(huge, in_dim=MAX_WIDTH)
    assert time.perf_counter() - start < 1.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024  # 3 x 65536^2 floats would be 48 GiB


def test_hostile_files_fail_cleanly_without_executing(tmp_path):
    marker = tmp_path / "pwned"
    payloads = {
        "code.json": json.dumps({**_valid_dict(), "layers": [
            {"width": 8, "activation": f"__import__('os').system('touch {marker}')"}]}),
        "pickle.json": b"\x80\x04\x95cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.",
        "python.json": f"Genotype(encoder=[open('{marker}', 'w')])",
        "nested.json": "[" * 200_000 + "]" * 200_000,
        "nan.json": json.dumps(_valid_dict()).replace('"in_dim": 16', '"in_dim": NaN'),
        "empty.json": "",
        "huge_width.json": json.dumps({**_valid_dict(), "layers": [{"width": 2 ** 40}]}),
    }
    for name, payload in payloads.items():
        path = tmp_path / name
        path.write_bytes(payload if isinstance(payload, bytes) else payload.encode())
        with pytest.raises(GenotypeError) as info:
            Genotype.load(path)
        assert name in str(info.value)
    big = tmp_path / "big.json"
    big.write_text(" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(GenotypeError, match="not a genotype file"):
        Genotype.load(big)
    assert not marker.exists()


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="no genotype file at"):
        Genotype.load(tmp_path / "nope.json")


def test_a_path_that_is_not_a_regular_file_is_named_as_such(tmp_path):
    """/dev/zero or a FIFO was "no genotype file at ..." (there is one; it is not a file to
    read: a FIFO would block, a device never end); a folder too. Each is now named for what
    it is, and a FIFO is never opened."""
    fifo = tmp_path / "genotype.json"
    os.mkfifo(fifo)
    for path, words in ((fifo, "is not a regular file (a FIFO, socket or device)"),
                        ("/dev/zero", "is not a regular file (a FIFO, socket or device)"),
                        (tmp_path, "is a folder, not a genotype file")):
        with pytest.raises(GenotypeError, match=re.escape(f"{path} {words}")):
            Genotype.load(path)
    from nasiam.rundir import read_genotypes

    with pytest.raises(GenotypeError, match="is not a regular file"):
        read_genotypes(tmp_path)   # a run folder whose genotype.json is a FIFO


def test_nasiam_space_genotypes_are_checked_against_their_ops():
    g = NASiamSpace().compile(["linear_relu", "identity"], in_dim=8, out_dim=8)
    assert Genotype.from_json(g.to_json()) == g
    d = g.to_dict()
    d["space"]["ops"] = ["linear_relu"]
    with pytest.raises(GenotypeError, match="'identity' is not in the space's ops"):
        Genotype.from_dict(d)


@pytest.mark.parametrize("space, message", [
    ({"ops": "linear_relu"}, "space.ops: expected a list of at most 64 op names"),
    ({"hidden_dim": 0}, "space.hidden_dim: expected a positive integer"),
    ({"widths": [8]}, r"space: unknown field\(s\) \['widths'\] for the nasiam space"),
    ({"ops": ["conv_9x9"]}, "^unknown NASiam op 'conv_9x9'"),
    ({"ops": []}, "space: the space needs at least one op"),   # was a bare ValueError, naming no field
])
def test_a_nasiam_space_record_is_refused_as_a_genotype_error_naming_the_field(space, message):
    d = NASiamSpace().compile(["linear_relu"], in_dim=8, out_dim=8).to_dict()
    d["space"] = {"name": "nasiam", **space}
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_dict(d)


def test_flops_count_linears_norms_and_activations():
    from nasiam.presets import get_preset

    predictor = get_preset("simsiam_predictor")  # Linear(2048, 512) - BN - ReLU - Linear(512, 2048) + bias
    assert predictor.flops(2048) == 2 * 2048 * 512 + 2 * 512 + 512 + 2 * 512 * 2048 + 2048
    with pytest.raises(GenotypeError, match="in_dim"):
        predictor.flops()


def test_pathological_numbers_are_genotype_errors():
    with pytest.raises(GenotypeError):
        Genotype.from_json('{"schema_version": 1, "layers": [{"width": ' + "9" * 5000 + "}]}")
    with pytest.raises(GenotypeError, match="schema_version"):
        Genotype.from_dict({**_valid_dict(), "schema_version": True})


def test_a_genotype_file_with_a_five_thousand_digit_integer_is_a_clear_error(tmp_path):
    from nasiam.rundir import read_genotypes
    from nasiam.space.genotype import GenotypeError

    path = tmp_path / "genotype.json"
    path.write_text('{"format": "nasiam.search", "heads": {"projector": {"layers": [{"width": ' + "9" * 5000 + "}]}}}")
    with pytest.raises(GenotypeError, match="not a valid genotype file"):
        read_genotypes(path)


# -- rebuilding for a model's widths ------------------------------------------------------
def test_for_dims_moves_the_output_layer_and_keeps_the_searched_widths():
    """The fixed output layer follows the model (e.g. the default search's 512 -> lightly's
    128); the searched hidden layer keeps its width; the old widths are recorded."""
    g = Genotype.from_dict(_valid_dict())  # 16 -> linear64 (searched) -> linear32 (fixed output)
    g2 = g.for_dims(in_dim=512, out_dim=128)
    assert [layer.width for layer in g2.layers] == [64, 128] and g2.in_dim == 512 and g2.out_dim == 128
    assert g2.layers[0] == g.layers[0] and g2.layers[1].fixed and g2.layers[1].norm == "batchnorm_noaffine"
    assert g2.meta["resized_from"] == {"in_dim": 16, "out_dim": 32} and g2.meta["framework"] == "simsiam"
    assert Genotype.from_json(g2.to_json()) == g2  # still a genotype of its space
    assert g.for_dims(16, 32) == g and "resized_from" not in _genotype().for_dims(in_dim=8).meta


def test_for_dims_of_a_head_without_a_fixed_output_layer_and_with_pooling():
    """The nasiam space's predictor cell has no fixed output layer: its last Linear and the
    width-keeping pooling after it carry the output width; pooling before the first Linear
    keeps the input width."""
    g = Genotype(layers=(LayerSpec(op="avgpool_3x3", width=16, norm="batchnorm"), LayerSpec(width=64, norm="batchnorm",
                                                                                            activation="relu"),
                         LayerSpec(width=32, bias=True), LayerSpec(op="maxpool_3x3", width=32, norm="batchnorm")),
                 in_dim=16)
    g2 = g.for_dims(in_dim=24, out_dim=8)
    assert [layer.width for layer in g2.layers] == [24, 64, 8, 8]
    assert NASHead(g2)(torch.randn(2, 24)).shape == (2, 8)
    pools = Genotype(layers=(LayerSpec(op="avgpool_3x3", width=16),), in_dim=16)
    with pytest.raises(GenotypeError, match="no Linear layer to carry another width"):
        pools.for_dims(out_dim=8)
    with pytest.raises(GenotypeError, match="out_dim: 0 is out of range"):
        g.for_dims(out_dim=0)


@pytest.mark.parametrize("change,message", [
    ({"schema_version": 99}, "schema_version: this nasiam reads schema version 1, the file has 99; upgrade"),
    ({"schema_version": None}, "None is not a valid schema version"),
    ({"schema_version": "1"}, "'1' is not a valid schema version"),
    ({"extra": 1}, "unknown field\\(s\\) 'extra'"),
    ({"framework": "x" * 500}, "framework: expected a framework's name, got 'xxx"),
    ({"heads": {"../up": None}}, "'../up' is not a head slot's name"),
])
def test_a_run_genotype_file_is_checked_as_strictly_as_a_heads(tmp_path, change, message):
    """A run's genotype.json (format nasiam.search) from a newer nasiam, or with fields this
    one does not know, is refused rather than half-read."""
    from nasiam.rundir import read_genotypes, write_search_genotypes

    path = tmp_path / "genotype.json"
    write_search_genotypes(path, "simsiam", {"projector": Genotype.from_dict(_valid_dict())})
    assert read_genotypes(path)[0] == "simsiam"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(GenotypeError, match=message):
        read_genotypes(path)


@pytest.mark.parametrize("kwargs,message", [
    ({"activations": ("relu", "swishy")}, "unknown activation 'swishy'; known: "),
    ({"norms": ("groupnorm",)}, "unknown norm 'groupnorm'; known: "),
    ({"activations": "relu"}, "got the string 'relu'; write \\('relu',\\)"),
    ({"widths": (10 ** 5000,)}, "width an integer of about 5,001 digits must be"),
])
def test_mlp_space_arguments_are_value_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLPSpace(**kwargs)


@pytest.mark.parametrize("allow_skip", ["false", "no", 0, None, 2])
def test_allow_skip_is_a_bool_in_the_mlp_and_siam_spaces_and_their_files(allow_skip):
    """`MLPSpace(allow_skip="false")` was accepted as true (layers could be skipped), and a
    genotype file's space record could hold "maybe" (the fifth probe of #33)."""
    from nasiam.space.siam import SiamSpace

    for space in (MLPSpace, SiamSpace):
        with pytest.raises(ValueError, match="allow_skip must be True or False"):
            space(allow_skip=allow_skip)
    with pytest.raises(GenotypeError, match="allow_skip must be True or False"):
        Genotype.from_dict({**_valid_dict(), "space": {"name": "siam", "allow_skip": allow_skip}})
    assert MLPSpace(allow_skip=False).allow_skip is False and SiamSpace(allow_skip=True).allow_skip is True


def test_shown_cuts_hostile_values_short():
    from nasiam.errors import shown

    assert shown(512) == "512" and shown("relu") == "'relu'"
    assert shown(10 ** 5000) == "an integer of about 5,001 digits"
    assert shown("x" * 4000) == "'" + "x" * 29 + "... (4,000 characters)"   # the string's length, not its repr's
    assert shown(list(range(100))).endswith("(390 characters)")   # other values: their repr's


def test_a_null_norm_is_named_not_an_attribute_error():
    """A genotype.json layer with `"norm": null` and no bias reached the default-bias rule and
    raised AttributeError (found by the from_pretrained fuzz target)."""
    from nasiam.space.genotype import GenotypeError, LayerSpec

    for norm in (None, 3, ["batchnorm"]):
        with pytest.raises(GenotypeError, match="norm"):
            LayerSpec.from_dict({"width": 4, "norm": norm})
