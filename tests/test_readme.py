"""The snippets of the README and docs/integrations.md run as written (paths to a search run
replaced by a test one); the README's length and order, and the links, nasiam commands, Python
blocks and citation of the README and docs/ are checked."""
import re
from pathlib import Path

import pytest
import yaml
from _heads_run import make_search_run

README = (Path(__file__).parent.parent / "README.md").read_text()
INTEGRATIONS = (Path(__file__).parent.parent / "docs" / "integrations.md").read_text()
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```\w+\n(.*?)```", flags=re.S)
SNIPPETS = dict(SNIPPET.findall(README) + SNIPPET.findall(INTEGRATIONS))


def run_snippet(name, run_dir, namespace=None):
    code = SNIPPETS[name].replace("runs/my-search", str(run_dir))
    exec(compile(code, f"README:{name}", "exec"), namespace if namespace is not None else {})
    return namespace


def test_every_marked_snippet_is_found():
    assert {name for name, _ in SNIPPET.findall(README)} == {"quickstart", "plain"}
    assert {name for name, _ in SNIPPET.findall(INTEGRATIONS)} == {"lightly", "solo-learn", "own-loop"}


def test_the_readme_is_short_and_opens_with_install_and_the_quick_start():
    """A newcomer reads what nasiam is, how to install it and how to run it before anything else
    (the README had grown to 326 lines, with sample output and intervals before Install)."""
    assert len(README.splitlines()) <= 250
    sections = re.findall(r"^## (.+)$", FENCE.sub("", README), flags=re.M)  # FENCE: below
    assert sections[:2] == ["Install", "Quick start"]
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert commands and max(len(line) for block in commands for line in block.splitlines()) <= 120


def test_quickstart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_snippet("quickstart", tmp_path, {})
    assert (tmp_path / "my_projector" / "head.safetensors").is_file() and ns["projector"].in_dim == 512
    # the snippet's architecture step moved the logits (they start at zero), through the policy's optimiser
    assert ns["arch"].arch_steps == 1 and any(p.abs().sum() > 0 for p in ns["head"].arch_parameters())


def test_plain_pytorch_swap(tmp_path):
    from test_integrations import facebook_simsiam

    from nasiam import NASHead

    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=128, pred_hidden=32)
    ns = run_snippet("plain", run, {"model": facebook_simsiam()})
    assert isinstance(ns["model"].encoder.fc, NASHead) and isinstance(ns["model"].predictor, NASHead)


def test_lightly_snippet_with_a_default_search_run(tmp_path):
    """A default `nasiam search` outputs 512 features; lightly's SimSiam example expects 128."""
    pytest.importorskip("lightly")
    from nasiam import NASHead

    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=512, pred_hidden=128)
    ns = run_snippet("lightly", run, {})
    assert isinstance(ns["model"].projection_head, NASHead) and ns["loss"].requires_grad
    assert ns["model"].projection_head.out_dim == ns["model"].prediction_head.out_dim == 128


def test_solo_learn_yaml_is_what_the_adapter_reads():
    config = yaml.safe_load(SNIPPETS["solo-learn"])
    assert config["method"] == "nas_simsiam"
    assert {"nas_heads", "nas_init_weights", "proj_output_dim"} <= set(config["method_kwargs"])


def test_solo_learn_snippet_with_solo_learn(tmp_path):
    pytest.importorskip("solo.methods", reason="solo-learn is not installed (it is GitHub-only)")
    from test_integrations import solo_cfg

    from nasiam import NASHead
    from nasiam.integrations.solo_learn import register

    config = yaml.safe_load(SNIPPETS["solo-learn"])
    kwargs = dict(config["method_kwargs"])
    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=512, pred_hidden=128)  # a default search's widths
    kwargs["nas_heads"] = str(run)
    cls = register()[config["method"]]
    model = cls(cls.add_and_assert_specific_cfg(solo_cfg(config["method"], **kwargs)))
    assert isinstance(model.projector, NASHead) and isinstance(model.predictor, NASHead)


@pytest.mark.slow
def test_search_in_your_own_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_snippet("own-loop", tmp_path, {})
    assert (tmp_path / "my_projector" / "genotype.json").is_file()
    assert all(p.grad is None for p in ns["projector"].weight_parameters())  # the arch step left none


@pytest.mark.slow
def test_plain_loop_example_runs(tmp_path):
    import subprocess
    import sys

    example = Path(__file__).parent.parent / "examples" / "plain_loop_search.py"
    assert len(example.read_text().splitlines()) < 80
    result = subprocess.run([sys.executable, str(example), "--synthetic", "--steps", "3", "--batch", "16",
                             "--out", str(tmp_path / "heads")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "projector:" in result.stdout and (tmp_path / "heads" / "predictor" / "head.safetensors").is_file()


# -- the documentation pages (docs/): links, code, citation ------------------------------------
ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.S | re.M)


def _anchors(text):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", text)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def broken_links(page: Path):
    """Relative links of a Markdown page whose file, or heading anchor, does not exist."""
    text = FENCE.sub("", page.read_text())
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file.read_text()):
            broken.append(target)
    return broken


def test_the_link_check_finds_a_broken_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## A section (issue #1)\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md) [ok](other.md#a-section-issue-1) [web](https://example.org/x.md)\n"
                    "[gone](missing.md) [gone](other.md#no-such-section)\n```\n[in code](ignored.md)\n```\n")
    assert broken_links(page) == ["missing.md", "other.md#no-such-section"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(page):
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page():
    docs = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert docs and all(f"docs/{name}" in README for name in docs)


def _nasiam_commands(block):
    """The argument lists of the `nasiam` commands in a bash block (continuations joined,
    comments dropped, `a && b; c` split, `[--optional]` brackets removed)."""
    import shlex

    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True  # '#' starts a comment
        commands.append([])
        for token in lexer:
            if set(token) <= set(";&|"):
                commands.append([])
            else:
                commands[-1].append(token.strip("[]"))
    for command in commands:
        if command[:1] == ["srun"]:
            command = command[1:]
        if command and Path(command[0]).name == "nasiam":
            yield command[1:]


def _blocks(language):
    for page in PAGES:
        for lang, code in FENCE.findall(page.read_text()):
            if lang == language:
                yield page.name, code


def test_the_command_check_reads_chains_and_continuations():
    block = "a && .venv/bin/nasiam search --x 1; b\nsrun nasiam export r \\\n    --out o  # nasiam bogus\n#SBATCH --n=1\n"
    assert [c for block_ in [block] for c in _nasiam_commands(block_)] == [["search", "--x", "1"],
                                                                          ["export", "r", "--out", "o"]]


def test_every_nasiam_command_in_the_docs_parses(monkeypatch):
    """Each `nasiam ...` line of a bash block names a command and options that exist (argparse
    exits 2 otherwise; --help and --version exit 0), and the options of `search` and `pretrain`
    hold values nasiam accepts (their recipes read from the checkout; this machine not asked)."""
    import dataclasses

    from nasiam.cli import build_parser
    from nasiam.config import ConfigError, load_config

    monkeypatch.chdir(ROOT)
    seen = 0
    for name, block in _blocks("bash"):
        for args in _nasiam_commands(block):
            seen += 1
            try:
                parsed = build_parser().parse_args(args)
            except SystemExit as exit_info:
                assert exit_info.code == 0, f"{name}: nasiam {' '.join(args)}"
                continue
            cls = getattr(parsed, "config_cls", None)
            if cls is None:
                continue
            recipes = [r for r in getattr(parsed, "config", None) or [] if Path(r).is_file()]  # mine.yaml: the reader's own
            overrides = {f.name: getattr(parsed, f.name) for f in dataclasses.fields(cls) if hasattr(parsed, f.name)}
            try:
                load_config(cls, recipes, overrides, check_environment=False)
            except ConfigError as e:
                raise AssertionError(f"{name}: nasiam {' '.join(args)}: {e}") from None
    assert seen >= 25


def test_every_python_block_in_the_docs_compiles_and_imports_what_exists():
    """Blocks that need a Trainer, a Hub account or a cluster are not run, but they parse and
    every name they import from nasiam exists."""
    import ast
    import importlib

    for name, code in _blocks("python"):
        tree = ast.parse(code, filename=name)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] == "nasiam":
                try:
                    module = importlib.import_module(node.module)
                except ModuleNotFoundError as e:  # an optional package (pytorch_lightning, lightly)
                    assert not e.name.startswith("nasiam"), f"{name}: {node.module}"
                    continue
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{name}: from {node.module} import {alias.name}"


def test_the_citation_names_this_version():
    from nasiam._version import __version__

    bibtex = re.search(r"## Citation.*?```bibtex\n(.*?)```", README, flags=re.S).group(1)
    assert f"version = {{{__version__}}}" in bibtex
    assert bibtex.count("@") == len(set(re.findall(r"@\w+\{(\w+),", bibtex))) == 8  # unique keys


def test_the_changelog_releases_this_version():
    """Keep a Changelog's release form: an Unreleased section on top, then releases with their
    dates, the newest one this version (or, between releases, a .dev of a later one), and a link
    reference for each (the file was one long Unreleased block, the version 0.1.0.dev0)."""
    from nasiam._version import __version__

    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[([^\]]+)\](.*)$", changelog, flags=re.M)
    assert releases[0] == ("Unreleased", "") and len(releases) >= 2
    assert all(re.fullmatch(r" - \d{4}-\d{2}-\d{2}", date) for _, date in releases[1:])
    newest, release = releases[1][0], __version__.split(".dev")[0]
    assert newest == __version__ if release == __version__ else newest != release
    for name, _ in releases:
        assert re.search(rf"^\[{re.escape(name)}\]: https://", changelog, flags=re.M), name
    body = changelog.split(f"## [{newest}]")[1].split("\n## [")[0]
    sections = re.findall(r"^### (\w+)$", body, flags=re.M)
    assert sections and set(sections) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
