# SPDX-License-Identifier: GPL-3.0-or-later
"""Every GRC block YAML agrees with the Python block it makes, and is what the declarations generate.

For each grc/*.block.yml the block behind its ``make`` template (``gensemcom.<name>(...)``) is
imported and ``yaml_problems`` checks: the YAML's parameter ids are the constructor's keywords
and the other way round (except keywords declared Python-only, ``grc=False``, and GRC-only ids
declared in the block's ``GRC.extra_parameters``, e.g. a GUI hint); each YAML default, evaluated
as GRC evaluates it, equals the signature's default (required keywords: GRC shows the declared
placeholder; ``GRC_CONVENTIONS`` lists the defaults that differ on purpose); enum options are the
declared choices and the project's constants; ``make`` passes keyword arguments only; callbacks
name methods of the block. Then the committed YAML must be what scripts/make_grc_yaml.py writes
now, so a parameter changed in Python without regenerating fails here.
"""
import ast
import copy
import inspect
import re
from pathlib import Path

import pytest
import yaml
from gnuradio import gensemcom

from gnuradio.gensemcom import constants, grc_yaml
from gnuradio.gensemcom.classical.stillcodec import CODECS
from gnuradio.gensemcom.params import REQUIRED
from gnuradio.gensemcom.phy.mcs import MCS_TABLE

ROOT = Path(__file__).resolve().parents[1]
YAML_FILES = sorted((ROOT / "grc").glob("*.block.yml"))

# (block, parameter id): why GRC's default is not the Python default
GRC_CONVENTIONS = {
    ("ofdm_qam_rx", "samp_rate"): "GRC blocks default to the flowgraph's samp_rate variable",
    ("sigmf_sink", "samp_rate"): "GRC blocks default to the flowgraph's samp_rate variable",
    ("channel_preset", "sample_rate_hz"): "GRC blocks default to the flowgraph's samp_rate variable",
}
# parameter id (or (block, id)) -> the constant its options must list
CONSTANT_CHOICES = {
    "scheme": constants.SCHEMES,
    "channel": constants.CHANNELS,
    ("channel_preset", "name"): constants.CHANNELS,
    "codec": CODECS,
    "quant": constants.QUANT_MODES,
    "mcs": tuple(MCS_TABLE),
    "fixed_mcs": ("",) + tuple(MCS_TABLE),
}
MAKE_CALL = re.compile(r"gensemcom\.(\w+)\(")
KEYWORD_ARG = re.compile(r"^(\w+)=\$\{(\w+)\}$")
CALLBACK = re.compile(r"^(\w+)\(\$\{(\w+)\}\)$")


def safe_eval(expr):
    """A Python expression of literals and arithmetic, as GRC evaluates a parameter in a flowgraph
    without variables: a name raises NameError (GRC: "cannot be evaluated")."""
    def value(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            left, right = value(node.left), value(node.right)
            return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right,
                    ast.Div: left / right if right else None}[type(node.op)]
        if isinstance(node, (ast.Tuple, ast.List)):
            return type(node.elts)(value(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return {value(k): value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Name):
            raise NameError(node.id)
        raise ValueError(f"not a literal expression: {ast.unparse(node)}")
    return value(ast.parse(str(expr).strip(), mode="eval").body)


def grc_evaluate(dtype, expr):
    """A YAML value as GRC evaluates it: a string parameter's text that is no Python string
    literal is the text itself; an enum value is the Python literal that goes into the code."""
    if dtype == "string":
        try:
            result = safe_eval(expr)
        except (NameError, ValueError, SyntaxError):
            return str(expr)
        return result if isinstance(result, str) else str(expr)
    if dtype == "bool":
        return bool(safe_eval(expr))
    return safe_eval(expr)


def make_call(doc):
    """(block name, [argument texts]) of the ``make`` template's ``gensemcom.<name>(...)`` call."""
    make = doc["templates"]["make"]
    match = MAKE_CALL.search(make)
    if not match:
        return None, []
    depth, start = 1, match.end()
    for end in range(start, len(make)):
        depth += {"(": 1, ")": -1}.get(make[end], 0)
        if depth == 0:
            break
    args, depth, current = [], 0, ""
    for ch in make[start:end]:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        args.append(current.strip())
    return match.group(1), args


def yaml_problems(doc, cls, name):
    """What is wrong with block YAML ``doc`` for block class ``cls`` (``gensemcom.<name>``)."""
    problems = []
    declared = {p.name: p for p in cls.PARAMETERS}
    grc_only = {p["id"] for p in cls.GRC.extra_parameters}
    signature = {k: v for k, v in inspect.signature(cls.__init__).parameters.items()
                 if k != "self" and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    yaml_params = {p["id"]: p for p in doc.get("parameters", [])}

    # every constructor keyword is declared, with the signature's default
    for key, param in signature.items():
        if key not in declared:
            problems.append(f"{name}: keyword {key} is not declared in PARAMETERS")
        elif (param.default is inspect.Parameter.empty) != (declared[key].default is REQUIRED) or (
                param.default is not inspect.Parameter.empty and param.default != declared[key].default):
            problems.append(f"{name}: keyword {key} defaults to {param.default!r}, declared {declared[key].default!r}")

    # ids <-> keywords
    for key in yaml_params:
        if key not in signature and key not in grc_only:
            problems.append(f"{name}: YAML parameter {key} is no constructor keyword")
    for key in signature:
        if key not in yaml_params and (key not in declared or declared[key].grc):
            problems.append(f"{name}: constructor keyword {key} is missing from the YAML")

    # defaults, as GRC evaluates them
    for key, entry in yaml_params.items():
        if key not in signature or key in grc_only:
            continue
        python_default = signature[key].default
        if python_default is inspect.Parameter.empty:
            placeholder = declared[key].grc_default if key in declared else None
            if str(entry.get("default")) != str(placeholder):
                problems.append(f"{name}: required {key}: YAML default {entry.get('default')!r} is not the "
                                f"declared placeholder {placeholder!r}")
            continue
        if (name, key) in GRC_CONVENTIONS:
            continue
        try:
            grc_default = grc_evaluate(entry["dtype"], entry.get("default", ""))
        except (NameError, ValueError, SyntaxError) as exc:
            problems.append(f"{name}: {key} YAML default {entry.get('default')!r} does not evaluate ({exc!r})")
            continue
        if grc_default != python_default or isinstance(grc_default, bool) != isinstance(python_default, bool):
            problems.append(f"{name}: {key} YAML default {grc_default!r} != Python default {python_default!r}")

    # options: the declared choices, and the project's constants
    for key, entry in yaml_params.items():
        param = declared.get(key)
        choices = param.choices if param is not None else None
        if "options" not in entry:
            if choices is not None:
                problems.append(f"{name}: {key} has choices {choices} but no YAML options")
            continue
        options = tuple(grc_evaluate(entry["dtype"], o) for o in entry["options"])
        expected = (True, False) if entry["dtype"] == "bool" else tuple(choices or ())
        if options != expected:
            problems.append(f"{name}: {key} YAML options {options} != declared {expected}")
        constant = CONSTANT_CHOICES.get((name, key), CONSTANT_CHOICES.get(key))
        if constant is not None and options != tuple(constant):
            problems.append(f"{name}: {key} YAML options {options} != the constant {tuple(constant)}")
        if len(entry.get("option_labels", entry["options"])) != len(entry["options"]):
            problems.append(f"{name}: {key} has {len(entry['options'])} options but other option_labels")

    # make: gensemcom.<name>(id=${id}, ...) and nothing positional
    called, args = make_call(doc)
    if called != name:
        problems.append(f"{name}: make calls gensemcom.{called}, not gensemcom.{name}")
    passed = []
    for arg in args:
        match = KEYWORD_ARG.match(arg)
        if not match:
            problems.append(f"{name}: make argument {arg!r} is not keyword=${{id}}")
        elif match.group(1) != match.group(2):
            problems.append(f"{name}: make passes ${{{match.group(2)}}} as {match.group(1)}")
        else:
            passed.append(match.group(1))
    for key in yaml_params:
        if key not in grc_only and key not in passed:
            problems.append(f"{name}: make does not pass {key}")

    # callbacks: existing methods, fed a YAML parameter
    for callback in doc["templates"].get("callbacks", []):
        match = CALLBACK.match(callback.strip())
        if not match:
            problems.append(f"{name}: callback {callback!r} is not method(${{id}})")
        elif not callable(getattr(cls, match.group(1), None)):
            problems.append(f"{name}: callback {match.group(1)} is no method of gensemcom.{name}")
        elif match.group(2) not in yaml_params:
            problems.append(f"{name}: callback {callback!r} names no parameter")
    return problems


def load(path):
    doc = yaml.safe_load(path.read_text())
    name, _ = make_call(doc)
    return doc, name, getattr(gensemcom, name)


def test_every_block_has_one_yaml():
    names = sorted(load(path)[1] for path in YAML_FILES)
    assert names == sorted(gensemcom._LAZY)
    assert [p.name for p in YAML_FILES] == sorted(f"gensemcom_{n}.block.yml" for n in names)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name.split(".")[0])
def test_yaml_agrees_with_the_python_block(path):
    doc, name, cls = load(path)
    assert doc["id"] == f"gensemcom_{name}"
    assert yaml_problems(doc, cls, name) == []


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name.split(".")[0])
def test_committed_yaml_is_what_the_declarations_generate(path):
    _, name, cls = load(path)
    assert path.read_text() == grc_yaml.block_text(name, cls), \
        f"{path.name} is stale: run `.venv/bin/python scripts/make_grc_yaml.py --write grc` and commit it"


def test_labels_are_one_style():
    for path in YAML_FILES:
        doc = yaml.safe_load(path.read_text())
        assert not doc["label"].startswith("GenSemCom") and doc["category"].startswith("[GenSemCom]")
        for entry in doc["parameters"]:
            words = re.sub(r"\(.*\)", "", entry["label"]).split()
            assert all(w[0].isupper() or w in ("per", "if", "of", "in") or not w.replace("-", "").isalpha()
                       for w in words), (path.name, entry["label"])   # Title Case; symbols (fD*Ts) as they are


def _doctor(doc, change):
    doc = copy.deepcopy(doc)
    params = {p["id"]: p for p in doc["parameters"]}
    if change == "default":
        params["mtu_bytes"]["default"] = "256"
    elif change == "positional":
        doc["templates"]["make"] = "gensemcom.fragmenter(${mtu_bytes}, mcs_plan=${mcs_plan}, repeats=${repeats}, " \
                                   "flush=${flush})"
    elif change == "missing":
        doc["parameters"] = [p for p in doc["parameters"] if p["id"] != "flush"]
    elif change == "extra":
        doc["parameters"].append({"id": "mtu", "label": "MTU", "dtype": "int", "default": "400"})
    elif change == "callback":
        doc["templates"]["callbacks"] = ["set_mtu(${mtu_bytes})"]
    return doc


@pytest.mark.parametrize("change, message", [
    ("default", "mtu_bytes YAML default 256 != Python default 400"),
    ("positional", "make argument '${mtu_bytes}' is not keyword=${id}"),
    ("missing", "constructor keyword flush is missing from the YAML"),
    ("extra", "YAML parameter mtu is no constructor keyword"),
    ("callback", "callback set_mtu is no method"),
])
def test_the_checker_catches_a_doctored_yaml(change, message):
    doc, name, cls = load(ROOT / "grc" / "gensemcom_fragmenter.block.yml")
    assert yaml_problems(doc, cls, name) == []
    problems = yaml_problems(_doctor(doc, change), cls, name)
    assert any(message in p for p in problems), problems


def test_the_checker_catches_a_wrong_enum_and_a_signature_default():
    doc, name, cls = load(ROOT / "grc" / "gensemcom_semantic_encoder.block.yml")
    doc = copy.deepcopy(doc)
    next(p for p in doc["parameters"] if p["id"] == "codec")["options"] = ['"avif"', '"webp"']
    assert any("codec YAML options" in p for p in yaml_problems(doc, cls, name))

    class drifted(cls):
        def __init__(self, scheme="semantic", budget_bytes=1000, cpp=0.0, symbols_for_bytes=None, mtu_bytes=400,
                     key_fraction=0.0, codec="avif", models="offline", quant="none", queue_size=4,
                     packet_group=None, band_bytes=0):
            pass
    assert any("keyword budget_bytes defaults to 1000, declared 3072" in p for p in yaml_problems(doc, drifted, name))


def test_the_packet_size_is_the_link_profiles():
    from gnuradio.gensemcom.link.profile import LinkProfile
    assert gensemcom.fragmenter.PARAMETERS["mtu_bytes"].default == LinkProfile.load("default").mtu_bytes == 400
    assert gensemcom.semantic_encoder.PARAMETERS["mtu_bytes"].default == 400


IMPAIRMENT_COMMANDS = ("transmit", "channel", "link")


@pytest.mark.parametrize("command, dest, param", [
    ("transmit", "scheme", "SCHEME"), ("transmit", "channel", "CHANNEL"), ("tx", "scheme", "SCHEME"),
    ("tx", "plan_channel", "PLANNING_CHANNEL"), ("rx", "scheme", "SCHEME"), ("channel", "channel", "CHANNEL"),
    ("demo", "channel", "CHANNEL"), ("demo", "cpp", "CPP"), ("encode", "codec", "CODEC"),
    ("encode", "budget_bytes", "BUDGET_BYTES"), ("link", "channel", "CHANNEL"),
])
def test_cli_options_come_from_the_declarations(command, dest, param):
    from gnuradio.gensemcom import cli, params
    declared = getattr(params, param)
    _, parser = cli.command_parser(command)
    action = next(a for a in parser._actions if a.dest == dest)
    if command in IMPAIRMENT_COMMANDS and dest == "channel":
        # an --impairments preset brings its channel unless --channel is given: None = not given
        assert action.default is None and f"(default {declared.default})" in action.help
    else:
        assert action.default == declared.default
    assert action.choices in (None, declared.choices)
    assert action.help.startswith(declared.doc.replace("%", "%%"))


def test_quant_help_lists_the_modes():
    from gnuradio.gensemcom import cli
    _, parser = cli.command_parser("transmit")
    action = next(a for a in parser._actions if a.dest == "quant")
    assert all(mode in action.help for mode in constants.QUANT_MODES)


def test_rx_threshold_changes_while_running():
    from gnuradio.gensemcom.errors import BadInputError
    rx = gensemcom.ofdm_qam_rx()
    rx.set_threshold(0.2)
    assert rx.gate.hi() == pytest.approx(0.2) and rx.gate.lo() == pytest.approx(0.2)
    with pytest.raises(BadInputError, match="threshold must be <= 1"):
        rx.set_threshold(2)
