import dataclasses
import math
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from nasiam import NASHead, SearchableHead, recalibrate_batchnorm
from nasiam.config import PretrainConfig, config_to_yaml
from nasiam.head.nas_head import GENOTYPE_FILE, WEIGHTS_FILE
from nasiam.presets import get_preset
from nasiam.space import Genotype, LayerSpec, MLPSpace

# the config.yaml a pretraining run writes before its first step (`nasiam.runner.loop`)
_RUN_CONFIG = config_to_yaml(PretrainConfig())


def _head():
    g = Genotype(layers=(LayerSpec(width=16, norm="layernorm", activation="gelu"),
                         LayerSpec(op="avgpool_3x3", width=16, norm="batchnorm"),
                         LayerSpec(width=8, norm="batchnorm_noaffine", fixed=True)))
    head = NASHead.from_genotype(g, in_dim=12)
    head.train()
    head(torch.randn(32, 12))  # non-trivial BatchNorm statistics
    return head.eval()


def test_from_genotype_builds_the_described_layers():
    head = _head()
    assert head.in_dim == 12 and head.out_dim == 8
    assert isinstance(head[0].linear, nn.Linear) and head[0].linear.bias is not None
    assert isinstance(head[1].pool, nn.AvgPool1d) and isinstance(head[1].norm, nn.BatchNorm1d)
    assert head[2].linear.bias is None and not head[2].norm.affine
    assert head(torch.randn(5, 12)).shape == (5, 8)
    assert "linear16-layernorm-gelu" in repr(head)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077], ids=oct)
def test_saved_heads_follow_the_umask_as_open_would(tmp_path, umask):
    # the atomic writer's temporary file once came from tempfile.mkstemp: 0600 whatever the umask
    previous = os.umask(umask)
    try:
        _head().save_pretrained(tmp_path / "h")
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert (tmp_path / "plain").stat().st_mode & 0o777 == expected
    for name in (GENOTYPE_FILE, WEIGHTS_FILE):
        assert (tmp_path / "h" / name).stat().st_mode & 0o777 == expected, name
    assert not list((tmp_path / "h").glob(".*.tmp"))


def test_save_and_from_pretrained_round_trip(tmp_path):
    head = _head()
    head.save_pretrained(tmp_path / "h")
    assert sorted(os.listdir(tmp_path / "h")) == [GENOTYPE_FILE, WEIGHTS_FILE]
    loaded = NASHead.from_pretrained(tmp_path / "h").eval()
    x = torch.randn(7, 12)
    torch.testing.assert_close(loaded(x), head(x))
    assert loaded.genotype == head.genotype
    assert Genotype.load(tmp_path / "h" / GENOTYPE_FILE).in_dim == 12


def test_from_pretrained_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing genotype.json, head.safetensors"):
        NASHead.from_pretrained(tmp_path)
    _head().save_pretrained(tmp_path / "h")
    (tmp_path / "h" / WEIGHTS_FILE).write_bytes(b"not safetensors at all")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        NASHead.from_pretrained(tmp_path / "h")
    # weights of another architecture
    other = NASHead.from_genotype(get_preset("simsiam_predictor", hidden_dim=16, out_dim=8), in_dim=12)
    other.save_pretrained(tmp_path / "o")
    (tmp_path / "h" / WEIGHTS_FILE).write_bytes((tmp_path / "o" / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ValueError, match="weights do not match the genotype"):
        NASHead.from_pretrained(tmp_path / "h")


def test_interrupted_save_leaves_the_previous_head_intact(tmp_path, monkeypatch):
    good = _head()
    good.save_pretrained(tmp_path)
    before = {f: (tmp_path / f).read_bytes() for f in (GENOTYPE_FILE, WEIGHTS_FILE)}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    other = NASHead.from_genotype(get_preset("simsiam_predictor", hidden_dim=4, out_dim=8), in_dim=12)
    with pytest.raises(OSError, match="No space left"):
        other.save_pretrained(tmp_path)
    monkeypatch.undo()
    assert {f: (tmp_path / f).read_bytes() for f in before} == before
    assert sorted(os.listdir(tmp_path)) == [GENOTYPE_FILE, WEIGHTS_FILE]  # no temp files left


def test_input_width_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expects \(batch, 12\) features, got \[5, 13\]"):
        _head()(torch.randn(5, 13))


def test_torch_export_gives_the_same_output():
    head = _head()
    x = torch.randn(6, 12)
    program = torch.export.export(head, (x,))
    torch.testing.assert_close(program.module()(x), head(x))


def test_torch_jit_script_gives_the_same_output():
    head = _head()
    x = torch.randn(6, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(head)
    torch.testing.assert_close(scripted(x), head(x))


def test_torch_compile_gives_the_same_output():
    head = _head()
    x = torch.randn(6, 12)
    # the eager backend checks tracing without a C++ toolchain; inductor runs in benchmarks
    compiled = torch.compile(head, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), head(x))


def test_recalibrate_batchnorm_uses_the_data_exactly():
    head = _head()
    batches = [torch.randn(64, 12) for _ in range(4)]
    assert recalibrate_batchnorm(head, batches) == 4
    assert not head.training
    with torch.no_grad():
        pooled = torch.cat([head[1].pool(head[0](b)) for b in batches])
    # cumulative average of per-batch means equals the pooled mean for equal batch sizes
    torch.testing.assert_close(head[1].norm.running_mean, pooled.mean(0), atol=1e-5, rtol=1e-5)
    assert head[1].norm.momentum == 0.1


def test_recalibrate_batchnorm_with_no_batches_changes_nothing():
    head = _head()
    before = head[1].norm.running_mean.clone()
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_batchnorm(head, [])
    torch.testing.assert_close(head[1].norm.running_mean, before)


def test_recalibration_after_export_matches_the_exported_architecture():
    supernet = SearchableHead(12, 8, 2, MLPSpace(widths=(8, 16)), output_norm="batchnorm_noaffine")
    supernet.train()
    for _ in range(5):
        supernet(torch.randn(32, 12))
    head = supernet.export()
    data = [torch.randn(64, 12) for _ in range(3)]
    recalibrate_batchnorm(head, data)
    head.eval()
    out = torch.cat([head(b) for b in data])
    # the output BN (affine=False) now standardises the exported head's own outputs
    assert out.mean(0).abs().max() < 0.2


@pytest.mark.parametrize("damage", ["bool", "int8", "nan"])
def test_weights_that_are_not_finite_floats_are_refused_not_cast(tmp_path, damage):
    from safetensors.torch import load_file, save_file

    _head().save_pretrained(tmp_path / "h")
    state = load_file(tmp_path / "h" / WEIGHTS_FILE)
    name = next(k for k, v in state.items() if v.ndim == 2)
    state[name] = {"bool": state[name] > 0, "int8": state[name].to(torch.int8),
                   "nan": state[name].clone().fill_(float("nan"))}[damage]
    save_file(state, tmp_path / "h" / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="expected floating point" if damage != "nan" else "non-finite"):
        NASHead.from_pretrained(tmp_path / "h")
    state[name] = torch.zeros(state[name].shape, dtype=torch.float64)   # float64 loads (cast to the head's dtype)
    save_file(state, tmp_path / "h" / WEIGHTS_FILE)
    assert NASHead.from_pretrained(tmp_path / "h") is not None


def test_resized_keeps_the_hidden_layers_weights_and_starts_the_output_layer_fresh(tmp_path):
    torch.manual_seed(0)
    head = _head()
    wider = head.resized(out_dim=20)
    assert (wider.in_dim, wider.out_dim) == (12, 20) and wider.training == head.training
    assert wider.genotype.meta == {"resized_from": {"out_dim": 8}, "fresh_layers": [2]}
    for i in (0, 1):  # everything before the output layer: the searched weights and BN statistics
        for (name, a), b in zip(head[i].state_dict().items(), wider[i].state_dict().values()):
            torch.testing.assert_close(a, b, msg=name)
    assert wider[2].linear.weight.shape == (20, 16) and float(wider[2].norm.running_var.mean()) == 1.0
    wider.save_pretrained(tmp_path / "h")  # which weights are the search's travels with the files
    assert NASHead.from_pretrained(tmp_path / "h").genotype.meta["fresh_layers"] == [2]
    assert head.resized(out_dim=8) is head


def test_resized_for_another_input_width_keeps_no_weights():
    """Layers after a re-initialised one would read features they were not trained on."""
    head = _head()
    other = head.resized(in_dim=6)
    assert other.in_dim == 6 and other.out_dim == 8 and other.genotype.meta["fresh_layers"] == [0, 1, 2]
    assert not torch.equal(other[1].norm.running_mean, head[1].norm.running_mean)


def test_a_genotype_json_edited_to_another_architecture_is_refused(tmp_path):
    """genotype.json says gelu, the weights were trained under relu: the shapes agree, so only
    the genotype recorded in head.safetensors tells. Refused, naming the layer and field."""
    import json

    from nasiam.space import GenotypeError

    NASHead.from_genotype(get_preset("simsiam_predictor", hidden_dim=8, out_dim=16), 16).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / GENOTYPE_FILE).read_text())
    saved["layers"][0]["activation"] = "gelu"
    (tmp_path / GENOTYPE_FILE).write_text(json.dumps(saved))
    with pytest.raises(GenotypeError, match="does not describe the head its weights were saved with "
                                            r"\(layer 0: activation gelu in genotype.json, relu with the weights\)"):
        NASHead.from_pretrained(tmp_path)


def test_weights_saved_without_a_recorded_genotype_load_by_their_shapes(tmp_path):
    """A head.safetensors written by another tool (no genotype in its metadata) still loads."""
    from safetensors.torch import save_file

    head = NASHead.from_genotype(get_preset("simsiam_predictor", hidden_dim=8, out_dim=16), 16)
    head.save_pretrained(tmp_path)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, tmp_path / WEIGHTS_FILE)
    loaded = NASHead.from_pretrained(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), head.state_dict().values()))


@pytest.mark.parametrize("in_dim", [-5, 0, 3.5, "8", True, 2 ** 20, pytest.param(10 ** 5000, id="5001_digits")])
def test_from_genotype_with_a_hostile_input_width_is_a_genotype_error(in_dim):
    from nasiam.space import GenotypeError

    with pytest.raises(GenotypeError, match=r"^in_dim: ") as error:
        NASHead.from_genotype(get_preset("simsiam_predictor"), in_dim)
    assert len(str(error.value)) < 120   # a 5,000-digit width is described, not echoed


def test_from_genotype_takes_a_genotype_its_mapping_or_a_path_and_names_anything_else(tmp_path):
    """`from_genotype(dict)` and `from_genotype(None)` raised a bare TypeError from inside the
    loader, `/dev/zero` said "no genotype file" (#33, found by an independent probe). A
    genotype's JSON mapping (`to_dict()`) builds the head; anything else is a GenotypeError
    naming the types taken; a path that is not a regular file says so."""
    from nasiam.space import GenotypeError

    genotype = get_preset("simsiam_predictor", hidden_dim=8, out_dim=16)
    head = NASHead.from_genotype(genotype.to_dict(), 16)
    assert head.genotype.layers == genotype.layers and head(torch.zeros(2, 16)).shape == (2, 16)
    for bad in (None, 42, [genotype.to_dict()]):
        with pytest.raises(GenotypeError, match="takes a Genotype, its JSON mapping \\(a dict\\) or a genotype "
                                                f"file's path, not {type(bad).__name__}"):
            NASHead.from_genotype(bad, 16)
    with pytest.raises(GenotypeError, match="/dev/zero is not a regular file"):
        NASHead.from_genotype("/dev/zero", 16)
    with pytest.raises(GenotypeError, match="schema_version"):   # a mapping is checked as a file is
        NASHead.from_genotype({"layers": []}, 16)


def test_recalibrate_batchnorm_skips_a_batch_of_one_row():
    # A loader's last batch holds one row when its dataset has k * batch_size + 1 items (a search
    # over 17 images at --batch_size 4): BatchNorm refused it in training mode, so the search
    # crashed with a traceback after its last epoch.
    head = _head()
    batches = [torch.randn(64, 12), torch.randn(64, 12), torch.randn(1, 12)]
    assert recalibrate_batchnorm(head, batches) == 2
    with torch.no_grad():
        pooled = torch.cat([head[1].pool(head[0](b)) for b in batches[:2]])
    torch.testing.assert_close(head[1].norm.running_mean, pooled.mean(0), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_batchnorm(_head(), [torch.randn(1, 12)])


def test_recalibrate_batchnorm_names_a_wrong_argument():
    """recalibrate_batchnorm(head, None) raised "'NoneType' object is not iterable" (the seventh
    probe of #33, B21): each argument is named."""
    head = _head()
    features = [torch.randn(8, 12)]
    for args, kwargs, words in (((head, None), {}, "batches must be an iterable of feature tensors"),
                                ((head, "features"), {}, "batches must be an iterable"),
                                ((None, features), {}, "module must be a head"),
                                ((head, features), {"max_batches": 0}, "max_batches must be an integer >= 1")):
        with pytest.raises(ValueError, match=words):
            recalibrate_batchnorm(*args, **kwargs)
    assert recalibrate_batchnorm(head, features, max_batches=None) == 1


def test_recalibrate_batchnorm_names_a_0d_batch_and_checks_only_the_batches_it_uses():
    """A 0-d tensor batch raised "TypeError: len() of a 0-d tensor"; with max_batches=1 a NaN in
    the second batch, never used, refused the recalibration (#33 probe 10, G2)."""
    torch.manual_seed(0)
    head = _head()
    with pytest.raises(ValueError, match=r"the batch at position 1 is a 0-d tensor \(tensor\(1\.\)\)"):
        recalibrate_batchnorm(head, [torch.randn(8, 12), torch.tensor(1.0)])
    good, nan = torch.randn(8, 12), torch.full((8, 12), float("nan"))
    assert recalibrate_batchnorm(head, [good, nan], max_batches=1) == 1
    assert all(torch.isfinite(b).all() for b in head.state_dict().values() if b.is_floating_point())
    assert recalibrate_batchnorm(head, [torch.randn(1, 12), good, torch.tensor(1.0)], max_batches=1) == 1
    with pytest.raises(ValueError, match="position 1 holds non-finite"):   # a used NaN batch is still refused
        recalibrate_batchnorm(head, [good, nan], max_batches=2)


def test_from_pretrained_names_a_path_that_is_not_a_heads_folder(tmp_path):
    """from_pretrained(123) raised pathlib's TypeError; from_pretrained(dir/genotype.json) said the
    file was "missing genotype.json, head.safetensors" (the seventh probe of #33, P1 and P5)."""
    _head().save_pretrained(tmp_path / "h")
    with pytest.raises(ValueError, match="directory must be a saved head's folder or 'hf-hub:user/name', got 123"):
        NASHead.from_pretrained(123)
    for name in (GENOTYPE_FILE, WEIGHTS_FILE):
        with pytest.raises(FileNotFoundError, match="is a file; NASHead.from_pretrained takes the folder") as info:
            NASHead.from_pretrained(tmp_path / "h" / name)
        assert f"(here {tmp_path / 'h'})" in str(info.value) and "missing" not in str(info.value)


def test_a_negative_running_variance_is_refused_as_a_damaged_file(tmp_path):
    """A saved head whose BatchNorm running_var was below zero loaded, and every eval-mode output
    was NaN (the seventh probe of #33, P12): no BatchNorm computes such a variance."""
    from safetensors.torch import load_file, save_file

    _head().save_pretrained(tmp_path / "h")
    state = load_file(tmp_path / "h" / WEIGHTS_FILE)
    name = next(k for k in state if k.endswith("running_var"))
    state[name] = torch.full_like(state[name], -1.0)
    save_file(state, tmp_path / "h" / WEIGHTS_FILE)
    with pytest.raises(ValueError, match=f"{name}: negative variances"):
        NASHead.from_pretrained(tmp_path / "h")
    state[name] = torch.zeros_like(state[name])   # zero is a variance (a constant feature): it loads
    save_file(state, tmp_path / "h" / WEIGHTS_FILE)
    assert NASHead.from_pretrained(tmp_path / "h").eval()(torch.randn(4, 12)).isfinite().all()


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_recalibrate_batchnorm_refuses_a_non_finite_batch_and_keeps_the_statistics(bad):
    """probe 8 E5: a NaN batch returned 1 and left NaN running statistics, silently."""
    torch.manual_seed(0)
    head = _head()
    recalibrate_batchnorm(head, [torch.randn(64, 12)])
    before = {k: v.clone() for k, v in head.state_dict().items()}
    batches = [torch.randn(64, 12), torch.randn(64, 12)]
    batches[1][3, 5] = bad
    with pytest.raises(ValueError, match="the batch at position 1 holds non-finite values"):
        recalibrate_batchnorm(head, batches)
    for k, v in head.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert not head.training and head[1].norm.momentum == 0.1


def test_recalibrate_batchnorm_names_a_batch_that_is_no_tensor():
    """probe 8 E7 (L14): a list of ints failed as "object of type 'int' has no len()"."""
    with pytest.raises(ValueError, match="batches must be an iterable of feature tensors, got 3 .type int. at position 0"):
        recalibrate_batchnorm(_head(), [3, 4])


def test_save_pretrained_refuses_what_from_pretrained_would_refuse(tmp_path):
    """probe 8 E5 (L16b): a head with NaN BatchNorm statistics was saved, then refused on loading
    as damaged. The writer runs the loader's check and writes nothing."""
    head = _head()
    head[1].norm.running_mean[2] = math.nan
    with pytest.raises(ValueError, match=r"from_pretrained would refuse them: 1\.norm\.running_mean: non-finite"):
        head.save_pretrained(tmp_path / "h")
    assert not (tmp_path / "h").exists()
    head[1].norm.running_mean[2] = 0.0
    head[1].norm.running_var[0] = -1.0
    with pytest.raises(ValueError, match="negative variances"):
        head.save_pretrained(tmp_path / "h")


def test_from_pretrained_names_each_bad_argument(tmp_path):
    """probe 8 E7 (L22, L24, L26-L28): `strict="no"` was read as true, `map_location="meta"` blamed
    on the file, a NUL in the path printed raw, a 5,000-byte path a raw OSError (Errno 36)."""
    _head().save_pretrained(tmp_path / "h")
    cases = [
        ({"strict": "no"}, "strict must be True or False, got 'no'"),
        ({"map_location": "meta"}, "map_location='meta': a meta tensor holds no values"),
        ({"map_location": "gpu"}, "map_location must be a device"),
        ({"subfolder": "a\x00b"}, r"subfolder: 'a\\x00b' holds a NUL character"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            NASHead.from_pretrained(tmp_path / "h", **kwargs)
    with pytest.raises(ValueError, match=r"directory: 'h\\x00x' holds a NUL character"):
        NASHead.from_pretrained("h\x00x")   # relative: a long $TMPDIR cuts an absolute path in the message
    with pytest.raises(ValueError, match=r"directory: 'xxx.*\(5,000 characters\) is read as a path, and it is longer"):
        NASHead.from_pretrained("x" * 5000)
    assert NASHead.from_pretrained(tmp_path / "h", strict=True, map_location=torch.device("cpu")).in_dim == 12


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.int64])
def test_recalibrate_batchnorm_names_a_batch_of_another_dtype_and_keeps_the_statistics(dtype):
    """probe 9 F5 (M19): a float64 batch raised torch's "expected m1 and m2 to have the same
    dtype, but got: double != float", naming neither the batch nor the fix."""
    torch.manual_seed(0)
    head = _head()
    before = {k: v.clone() for k, v in head.state_dict().items()}
    batches = [torch.randn(64, 12), torch.randn(64, 12).to(dtype)]
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(ValueError, match=f"batches: the batch at position 1 is {name}; the head is float32: convert "
                                         r"the batches with \.to\(torch\.float32\); the statistics were left as they"):
        recalibrate_batchnorm(head, batches)
    for k, v in head.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert not head.training
    assert recalibrate_batchnorm(head.double(), [b.double() for b in batches]) == 2   # matching dtypes: taken


@pytest.mark.parametrize("where", ["the path", "a folder above it"])
def test_save_pretrained_into_a_file_is_refused_by_name(tmp_path, where):
    """probe 9 F5 (M23): `save_pretrained(a_file)` raised mkdir's raw "[Errno 17] File exists".
    Named now, nothing written; a ValueError as the other refused arguments, and an OSError still
    (NotADirectoryError), which the CLI reports as a failed write."""
    (tmp_path / "notes.txt").write_text("mine")
    target = tmp_path / "notes.txt" if where == "the path" else tmp_path / "notes.txt" / "head"
    with pytest.raises(ValueError, match="notes.txt.* is a file, and save_pretrained writes a folder .*Nothing was "
                                         "written") as raised:
        _head().save_pretrained(target)
    assert isinstance(raised.value, NotADirectoryError) and raised.value.filename == str(tmp_path / "notes.txt")
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_missing_folders_name_is_quoted_escaped(tmp_path):
    """#33 probe 12, I6: from_pretrained's missing-folder message held the path raw, so a
    traceback wrote its control characters to the terminal."""
    with pytest.raises(FileNotFoundError, match="is not a saved NASHead") as e:
        NASHead.from_pretrained(tmp_path / "no\x1b[2Jpe")
    assert "\x1b" not in str(e.value) and "\\x1b[2Jpe" in str(e.value)


@pytest.mark.parametrize("record", ["summary.json", "export.json", "config.yaml"])
def test_save_pretrained_into_a_run_or_export_folder_is_refused(tmp_path, record):
    """#33 probe 14, K4: `save_pretrained(RUN)` replaced a finished run's genotype.json (both slots
    and the framework) by one head's, and `pretrain --head RUN` then trained that head. A folder
    holding a run's or an export's record is refused, by the Lightning callback's rule."""
    run = tmp_path / "run"
    run.mkdir()
    (run / record).write_text({"config.yaml": _RUN_CONFIG,
                               "summary.json": '{"framework": "simsiam"}',
                               "export.json": '{"format": "nasiam.export"}'}[record])   # as nasiam writes each
    (run / GENOTYPE_FILE).write_text("the run's")
    traces = [".lock"] if record == "config.yaml" else []   # a run's config.yaml: its lock from its first step
    for trace in traces:
        (run / trace).write_text("")
    with pytest.raises(ValueError, match=rf"holds a nasiam run or export \({record}\).*Nothing was written"):
        _head().save_pretrained(run)
    assert sorted(os.listdir(run)) == sorted([record, GENOTYPE_FILE, *traces])
    assert (run / GENOTYPE_FILE).read_text() == "the run's"
    (run / "heads").mkdir()
    with pytest.raises(ValueError, match=rf"holds a nasiam run or export \(\.\./{record}\)"):   # L5: its heads/
        _head().save_pretrained(run / "heads")
    (tmp_path / "link").symlink_to(run / "heads")   # M12: through a link to it as well
    with pytest.raises(ValueError, match=rf"holds a nasiam run or export \(\.\./{record}\)"):
        _head().save_pretrained(tmp_path / "link")
    assert os.listdir(run / "heads") == []


@pytest.mark.parametrize("record", ["summary.json", "export.json", "config.yaml"])
def test_save_pretrained_into_a_runs_heads_slot_is_refused_but_nasiam_writes_there(tmp_path, record):
    """#33 probe 17, N8: `save_pretrained(RUN/heads/projector)` replaced a finished run's head
    (export then called the run "changed since it finished") and `RUN/heads/heads` added a folder
    inside the run. Refused now, through a link as well; nasiam's own writers (a run resumed for
    more epochs writes its heads after its first summary.json) go by `_write_pretrained`."""
    run = tmp_path / "run"
    (run / "heads").mkdir(parents=True)
    (run / record).write_text({"config.yaml": _RUN_CONFIG, "summary.json": '{"framework": "simsiam"}',
                               "export.json": '{"format": "nasiam.export"}'}[record])
    (run / "checkpoints").mkdir()   # what a run has beside its config.yaml
    shutil.copytree(_head().save_pretrained(tmp_path / "h"), run / "heads" / "projector")   # what the run wrote
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    (tmp_path / "slot-link").symlink_to(run / "heads" / "projector")
    for target, depth in [(run / "heads" / "projector", 2), (run / "heads" / "heads", 2),
                          (run / "heads" / "projector" / "sub", 3), (tmp_path / "slot-link", 2)]:
        shown = re.escape("../" * depth + record)
        with pytest.raises(ValueError, match=rf"holds a nasiam run or export \({shown}\), whose .*Nothing was "
                                             "written; save the head in another folder"):
            NASHead.from_genotype(_head().genotype).save_pretrained(target)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    # nasiam's own door keeps the checks that are not about runs
    with pytest.raises(ValueError, match="this head is on the meta device"):
        _head().to("meta")._write_pretrained(run / "heads" / "projector")
    (run / "heads" / "notes").write_text("mine")
    with pytest.raises(ValueError, match="notes.* is a file, and save_pretrained writes a folder"):
        _head()._write_pretrained(run / "heads" / "notes")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != "notes"} == before
    head = NASHead.from_genotype(_head().genotype)
    head._write_pretrained(run / "heads" / "projector")   # a run resumed for more epochs
    assert torch.equal(NASHead.from_pretrained(run / "heads" / "projector")[0].linear.weight, head[0].linear.weight)


def test_save_pretrained_into_a_projects_heads_folder_beside_its_own_config_is_kept(tmp_path):
    """#33 probe 16, M12: `save_pretrained("proj/heads")` was refused as "a nasiam run" because
    proj/ held the user's own config.yaml; a run's config.yaml has checkpoints/ or genotype.json
    beside it."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "config.yaml").write_text("model: mine\n")
    _head().save_pretrained(project / "heads")
    assert NASHead.from_pretrained(project / "heads").in_dim == 12
    # #33 probe 17, N7: LightningCLI's log folder (its config.yaml, hparams.yaml, checkpoints/)
    (project / "checkpoints").mkdir()
    (project / "hparams.yaml").write_text("lr: 0.1\n")
    (project / "config.yaml").write_text("model:\n  backbone: resnet18\ntrainer:\n  max_epochs: 3\n")
    _head().save_pretrained(project / "heads")
    _head().save_pretrained(project)
    # #33 probe 18, P3: another tool's summary.json or export.json beside it
    (project / "summary.json").write_text('{"accuracy": 0.9}')
    (project / "export.json").write_text("not json at all")
    _head().save_pretrained(project / "heads")
    _head().save_pretrained(project)
    # a pretraining run still training: nasiam's config.yaml, no summary.json yet
    (project / "config.yaml").write_text(_RUN_CONFIG)
    with pytest.raises(ValueError, match=r"holds a nasiam run or export \(\.\./config\.yaml\)"):
        _head().save_pretrained(tmp_path / "proj" / "heads")


_RECIPES = Path(__file__).resolve().parent.parent / "recipes"


@pytest.mark.parametrize("recipe", [*sorted(_RECIPES.glob("*.yaml")), *sorted(_RECIPES.glob("base/*.yaml")),
                                    "framework: simclr\nbackbone: resnet18\nproj_hidden_dim: 2048\n",
                                    "defaults:\n- _self_\nframework: simclr\nbackbone: resnet18\nproj_hidden_dim: 2048\n"
                                    "hydra:\n  run:\n    dir: outputs\n"],
                         ids=lambda r: r.name if isinstance(r, Path) else r.split("\n")[0])
def test_a_project_whose_config_yaml_is_a_recipe_takes_a_head(tmp_path, recipe):
    """#33 probe 18, P6: a project folder holding its own recipe (or a Hydra config) as
    config.yaml was refused as "a nasiam run" when the file had `framework:`, `backbone:` and
    `proj_hidden_dim:` lines; a recipe holds none of the keys only a run's resolved config has."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "config.yaml").write_text(recipe.read_text() if isinstance(recipe, Path) else recipe)
    for target in (tmp_path / "proj", tmp_path / "proj" / "heads", tmp_path / "proj" / "heads" / "projector"):
        _head().save_pretrained(target)
        assert NASHead.from_pretrained(target).in_dim == 12


@pytest.mark.parametrize("form", ["block", "utf-8 BOM", "flow style", "CRLF"])
def test_a_runs_config_yaml_is_told_by_its_keys_in_any_form(tmp_path, form):
    """#33 probe 18, P6: a run's config.yaml (a run still training: no summary.json yet) with a
    UTF-8 BOM or re-dumped in flow style was not seen, and a head was written into the run (its
    heads/<slot>: test_save_pretrained_into_a_runs_heads_slot_is_refused_but_nasiam_writes_there)."""
    import yaml

    text = {"block": _RUN_CONFIG, "utf-8 BOM": "\ufeff" + _RUN_CONFIG, "CRLF": _RUN_CONFIG.replace("\n", "\r\n"),
            "flow style": yaml.safe_dump(dataclasses.asdict(PretrainConfig()), default_flow_style=True)}[form]
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_bytes(text.encode("utf-8"))
    (run / ".lock").write_text("")   # a run still training holds its lock
    for target, record in [(run, "config.yaml"), (run / "heads", "../config.yaml")]:
        with pytest.raises(ValueError, match=rf"holds a nasiam run or export \({re.escape(record)}\)"):
            _head().save_pretrained(target)
    assert sorted(os.listdir(run)) == [".lock", "config.yaml"]


def test_a_copy_of_a_runs_config_yaml_is_no_run_but_a_training_run_unread_is(tmp_path):
    """#33 probe 20, R1: a run's config.yaml copied into a project (to give it to --config) made
    the project "a nasiam run": no run has a config.yaml without its lock, checkpoints or summary.
    R3: a training run whose config.yaml is a link, or over the size is_run_config reads, was
    written into; beside a run's traces it counts as a run's, unread."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "config.yaml").write_text(_RUN_CONFIG)
    for target in (project, project / "heads" / "mine"):
        _head().save_pretrained(target)
        assert NASHead.from_pretrained(target).in_dim == 12
    for name, make in (("link", lambda c: c.symlink_to(tmp_path / "elsewhere.yaml")),
                       ("big", lambda c: c.write_text(_RUN_CONFIG + "#" * (2 << 20)))):
        run = tmp_path / name
        (run / "checkpoints").mkdir(parents=True)
        (tmp_path / "elsewhere.yaml").write_text(_RUN_CONFIG)
        make(run / "config.yaml")
        with pytest.raises(ValueError, match=r"holds a nasiam run or export \(config\.yaml\)"):
            _head().save_pretrained(run)
        assert sorted(os.listdir(run)) == ["checkpoints", "config.yaml"]


@pytest.mark.slow
def test_a_finished_search_run_keeps_its_heads_and_resumes_for_more_epochs(tmp_path, capsys):
    """A real run end to end (#33 probe 17, N8; probe 18, P6): its folder, heads/ and heads/<slot>
    are refused to save_pretrained, before and after it finishes; resumed for more epochs it writes
    its own heads there again, and `nasiam export` finds nothing changed since it finished."""
    from _runs import TINY

    from nasiam.cli import main

    run = tmp_path / "r"
    args = ["search", *TINY, "--warmup_epochs=0", f"--out_dir={tmp_path}", "--run_name=r"]
    assert main([*args, "--epochs=1"]) == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for target in (run, run / "heads", run / "heads" / "projector", run / "heads" / "predictor" / "x"):
        with pytest.raises(ValueError, match=r"holds a nasiam run or export \((\.\./)*summary\.json\)"):
            NASHead.from_pretrained(run / "heads" / "projector").save_pretrained(target)
    (run / "summary.json").rename(tmp_path / "summary.json")   # as while it ran: its config.yaml alone
    with pytest.raises(ValueError, match=r"holds a nasiam run or export \(\.\./\.\./config\.yaml\)"):
        NASHead.from_pretrained(run / "heads" / "projector").save_pretrained(run / "heads" / "projector")
    (tmp_path / "summary.json").rename(run / "summary.json")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert main([*args, "--resume", "--epochs=2"]) == 0
    assert (run / "heads" / "projector" / WEIGHTS_FILE).read_bytes() != before[run / "heads" / "projector" / WEIGHTS_FILE]
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(tmp_path / "x")]) == 0, capsys.readouterr().err


def test_save_pretrained_checks_the_weights_against_the_genotype(tmp_path):
    """#33 probe 14, K9: the writer compared the head's state with itself, so a weight replaced
    by a Parameter of another shape was saved, and from_pretrained then refused the folder."""
    head = _head()
    head[0].linear.weight = nn.Parameter(torch.randn(3, 3))
    with pytest.raises(ValueError, match=r"from_pretrained would refuse them: 0\.linear\.weight: expected \(16, 12\), "
                                         r"file has \(3, 3\)"):
        head.save_pretrained(tmp_path / "h")
    assert not (tmp_path / "h").exists()


@pytest.mark.parametrize("name", [GENOTYPE_FILE, WEIGHTS_FILE])
def test_save_pretrained_where_a_file_of_the_head_is_a_folder_is_refused_by_name(tmp_path, name):
    """#33 probe 14, K10 (SP2, SP3): a folder named genotype.json or head.safetensors gave a raw
    IsADirectoryError quoting the temporary file's name, and left the new weights beside no genotype."""
    (tmp_path / "h" / name).mkdir(parents=True)
    with pytest.raises(ValueError, match=rf"h/{name} is a folder, where save_pretrained writes a file\. Nothing was"):
        _head().save_pretrained(tmp_path / "h")
    assert os.listdir(tmp_path / "h") == [name]


def test_save_pretrained_of_a_head_on_the_meta_device_is_refused_by_name(tmp_path):
    """#33 probe 14, K10 (SP8): torch's raw "Cannot copy out of meta tensor; no data!"."""
    with pytest.raises(ValueError, match="this head is on the meta device, whose tensors hold no values"):
        _head().to("meta").save_pretrained(tmp_path / "h")
    assert not (tmp_path / "h").exists()


def test_float8_weights_and_an_unusable_device_are_named(tmp_path):
    """#33 probe 14, K10 (FP8, FP19): float8 weights raised torch's `"isfinite" not implemented
    for 'Float8_e4m3fn'`; map_location="mps" (a torch without it) torch's raw RuntimeError."""
    from safetensors.torch import load_file, save_file

    _head().save_pretrained(tmp_path / "h")
    state = load_file(tmp_path / "h" / WEIGHTS_FILE)
    state["0.linear.weight"] = state["0.linear.weight"].to(torch.float8_e4m3fn)
    save_file(state, tmp_path / "h" / WEIGHTS_FILE)
    with pytest.raises(ValueError, match=r"0\.linear\.weight: torch\.float8_e4m3fn values, not a dtype a saved head"):
        NASHead.from_pretrained(tmp_path / "h")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="map_location='mps': this PyTorch cannot place tensors there"):
            NASHead.from_pretrained(tmp_path / "h", map_location="mps")


def test_an_unreadable_weights_file_is_named_by_its_errno(tmp_path, monkeypatch):
    """#33 probe 14, K15 (U6): a head.safetensors the user may not read was reported as "No such
    file or directory" (safetensors' words for EACCES). The file is opened first, so the message
    says what the system said. (Root reads a chmod-0 file; the refusal is simulated.)"""
    import builtins

    _head().save_pretrained(tmp_path / "h")
    weights, real_open = str(tmp_path / "h" / WEIGHTS_FILE), builtins.open

    def refusing_open(file, *args, **kwargs):
        if os.fspath(file) == weights:
            raise PermissionError(13, "Permission denied", weights)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(ValueError, match=r"head\.safetensors: cannot be read \(Permission denied\)"):
        NASHead.from_pretrained(tmp_path / "h")
