# SPDX-License-Identifier: GPL-3.0-or-later
"""Model cards: shipped cards parse, validation names the valid choices, search path, stack
selection, --quant parsing, and the missing-weights error (message and CLI exit code)."""
import subprocess
import sys
import textwrap

import pytest

from gnuradio.gensemcom import cli, models
from gnuradio.gensemcom.errors import BadInputError, MissingWeightsError
from gnuradio.gensemcom.models import cards as cards_mod
from gnuradio.gensemcom.models.weights import resolve_weights

SHIPPED_LARGE = ["blip-base", "clipseg-rd64-refined", "sd-inpaint", "sdxl-inpaint", "segformer-b0-ade"]


def write_card(folder, name, text):
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_cards_parse_and_name_pinned_checkpoints():
    names = {c.name: c for c in models.list_cards()}
    for name in SHIPPED_LARGE + ["offline", "large", "large-xl", "tiny", "tiny-blip", "tiny-clipseg",
                                 "tiny-sd-inpaint", "tiny-segformer"]:
        assert name in names, name
    for name in SHIPPED_LARGE:
        card = names[name]
        assert card.is_large and card.checkpoint["repo_id"] and "revision" in card.checkpoint
        assert card.expected_size_mb > 0 and card.trust_remote_code is False
    assert names["sd-inpaint"].option("pipeline_class") == "StableDiffusionInpaintPipeline"


def test_stack_selection():
    roles = models.stack_roles(None)
    assert {r: c.backend for r, c in roles.items()} == dict.fromkeys(models.ROLES, "offline")
    large = models.stack_roles("large")
    assert [large[r].name for r in models.ROLES] == ["clipseg-rd64-refined", "blip-base", "sd-inpaint"]
    one = models.stack_roles("blip-base")  # a model card replaces its role in the offline stack
    assert one["prompt_generator"].name == "blip-base" and one["generator"].backend == "offline"
    mixed = models.stack_roles("tiny,sd-inpaint")
    assert mixed["segmenter"].name == "tiny-clipseg" and mixed["generator"].name == "sd-inpaint"
    stack = models.load_stack("large", quant="generator=nf4,prompt_generator=int8")  # lazy: loads nothing
    assert stack.describe()["quant"] == {"segmenter": "none", "prompt_generator": "int8", "generator": "nf4"}


def test_parse_quant():
    assert models.parse_quant("nf4") == dict.fromkeys(models.ROLES, "nf4")
    assert models.parse_quant("generator=int8") == {"generator": "int8"}
    assert models.parse_quant(None) == {}
    with pytest.raises(BadInputError, match="none, int8, nf4, torchao-int8"):
        models.parse_quant("int3")
    with pytest.raises(BadInputError, match="segmenter, prompt_generator, generator"):
        models.parse_quant("decoder=nf4")


@pytest.mark.parametrize("body, message", [
    ("backend: clipseg\nweights: x\n", "unknown key(s) weights; valid keys: name, kind"),
    ("backend: yolo\n", "backend 'yolo' is not one of offline, clipseg"),
    ("backend: clipseg\ncheckpoint: {builder: clipseg}\nquantization: int4\n",
     "none, int8, nf4, torchao-int8"),
    ("backend: clipseg\ncheckpoint: {builder: clipseg}\noptions: {colour: red}\n",
     "unknown option(s) colour for backend 'clipseg'; valid options: key_classes"),
    ("backend: diffusers-inpaint\ncheckpoint: {builder: sd-inpaint}\noptions: {scheduler: magic}\n",
     "scheduler 'magic' is not one of default, ddim"),
    ("backend: clipseg\ncheckpoint: {builder: clipseg}\noptions: {threshold: high}\n", "must be a float"),
    ("backend: clipseg\ncheckpoint: {builder: clipseg}\ndevice: tpu\n", "auto, cpu, cuda, cuda:N"),
    ("backend: clipseg\n", "exactly one of repo_id, path, builder or package"),
    ("backend: clipseg\nrole: generator\ncheckpoint: {builder: clipseg}\n", "fills role 'segmenter'"),
    ("kind: stack\nstack: {decoder: x}\n", "unknown role(s) decoder"),
    ("backend: clipseg\ncheckpoint: {builder: clipseg}\ntrust_remote_code: yes-please\n", "true or false"),
])
def test_validation_names_valid_choices(tmp_path, body, message):
    path = write_card(tmp_path, "bad", body)
    with pytest.raises(BadInputError) as info:
        models.load_card(path)
    assert message in str(info.value)


def test_search_path_env_and_subfolders(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSEMCOM_MODELS_DIR", str(tmp_path))
    (tmp_path / "mine").mkdir()
    write_card(tmp_path / "mine", "my-seg", """\
        backend: clipseg
        checkpoint: {path: ./weights}
        """)
    write_card(tmp_path, "blip-base", """\
        backend: image-to-text
        checkpoint: {path: /nowhere}
        """)
    assert models.find_card("my-seg") == tmp_path / "mine" / "my-seg.yaml"
    assert models.load_card("blip-base").checkpoint == {"path": "/nowhere"}  # the env folder comes first
    assert cards_mod.card_search_path()[0] == tmp_path
    with pytest.raises(BadInputError, match="unknown model card 'nope'; available: .*my-seg"):
        models.load_card("nope")


def test_missing_weights_message_names_card_path_and_command(tmp_path):
    from huggingface_hub import constants
    card = models.load_card("blip-base")
    card.checkpoint["revision"] = "0" * 40  # a snapshot no cache holds
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(card)
    text = str(info.value)
    assert "'blip-base'" in text and "gensemcom models download blip-base" in text
    assert str(constants.HF_HUB_CACHE) + "/models--Salesforce--blip-image-captioning-base/snapshots/" in text
    path = write_card(tmp_path, "local", "backend: clipseg\ncheckpoint: {path: ./weights}\n")
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(models.load_card(path))
    assert str(tmp_path / "weights") in str(info.value)
    assert f"gensemcom models download {path}" in str(info.value)


def test_missing_weights_cli_is_one_line_exit_2(tmp_path, capsys):
    card = write_card(tmp_path, "gone", "backend: image-to-text\ncheckpoint: {path: ./weights}\n")
    (tmp_path / "data").mkdir()
    code = cli.main(["finetune", "captioner", "--card", str(card), "--data", str(tmp_path / "data"),
                     "--out", str(tmp_path / "out"), "--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "model card 'gone'" in err and str(tmp_path / "weights") in err
    assert "gensemcom models download" in err


def test_models_cli_list_show_and_errors():
    proc = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "models", "list"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "tiny-blip" in proc.stdout and "built on use" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "models", "show", "no-such-card"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "available:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cards_module_imports_no_torch():
    code = ("import sys; from gnuradio.gensemcom import models; models.stack_roles('large'); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["False", "False"], proc.stderr


def test_stack_arguments_for_coding_commands():
    import argparse

    from gnuradio.gensemcom.cli.models import add_stack_arguments, stack_from_args
    parser = argparse.ArgumentParser()
    add_stack_arguments(parser)
    args = parser.parse_args(["--models", "large", "--quant", "generator=nf4", "--device", "cpu"])
    stack = stack_from_args(args)
    assert stack.cards["generator"].name == "sd-inpaint" and stack.quant == {"generator": "nf4"}
    assert stack.loaded == set()
    assert stack_from_args(parser.parse_args([])).cards["segmenter"].backend == "offline"
    with pytest.raises(BadInputError, match="auto, cpu, cuda, cuda:N"):
        stack_from_args(parser.parse_args(["--device", "gpu"]))


def test_a_download_records_the_commit_its_revision_resolved_to(tmp_path, monkeypatch):
    """Cards name a branch (main); the download pins what it got, and loading asks for that commit."""
    from gnuradio.gensemcom.models.cards import load_card
    from gnuradio.gensemcom.models.weights import cache_dir_env, pinned_revision, record_revision
    card = load_card("sd-inpaint")
    commit = "0123456789abcdef0123456789abcdef01234567"
    with cache_dir_env(tmp_path):
        assert pinned_revision(card) is None
        assert record_revision(card, tmp_path / "models--x" / "snapshots" / commit) == commit
        assert pinned_revision(card) == commit
        assert record_revision(card, tmp_path / "not-a-snapshot") == ""      # a local folder: nothing to pin
        assert pinned_revision(load_card("clipseg-rd64-refined")) is None
        (tmp_path / "resolved-revisions.yaml").write_text("{{ not yaml")
        assert pinned_revision(card) is None
