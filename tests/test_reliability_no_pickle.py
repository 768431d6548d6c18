# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing from the air is executed or unpickled (issue 7): a scan of the package source.

Fails on any of these outside ``ALLOWED`` (each entry says why it is safe):
  * importing pickle, cPickle, _pickle, dill, cloudpickle, marshal, shelve or joblib
  * calling the builtins eval, exec or compile
  * yaml.load / load_all / full_load / unsafe_load without ``Loader=SafeLoader`` (or yaml.Loader,
    UnsafeLoader, FullLoader at all); yaml.safe_load is the way
  * torch.load without ``weights_only=True``; torch.jit.load; pandas.read_pickle
  * numpy.load with ``allow_pickle=True`` (its default, False, is fine)
  * from_pretrained / load_lora_weights with ``use_safetensors=False`` or ``trust_remote_code=True``
  * subprocess with ``shell=True``, os.system, os.popen
  * importing a module whose name is not a literal (importlib.import_module, __import__)

and checks that model weights and LoRA adapters are loaded as safetensors only.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "gensemcom"

PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
UNSAFE_YAML = {"load", "load_all", "full_load", "full_load_all", "unsafe_load", "unsafe_load_all"}
SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}

# (file relative to the package, enclosing function, rule): why it is safe
ALLOWED = {
    ("__init__.py", "__getattr__", "dynamic import"):
        "lazy attribute imports from the fixed _LAZY table of this package",
    ("semantic/__init__.py", "__getattr__", "dynamic import"):
        "lazy attribute imports from a fixed table of this package",
    ("cli/__init__.py", "command_parser", "dynamic import"):
        "the subcommand module from the fixed COMMANDS table",
    ("semantic/backends.py", "build_backend", "dynamic import"):
        "a backend named in the codec configuration (local code/config: 'module:attr'); containers "
        "carry no backend names",
    ("models/bench.py", "_import_for_baseline", "dynamic import"):
        "the backend module and library a model card names (a local YAML file the user chose), "
        "imported before a memory baseline",
    ("models/stack.py", "offline_backend", "dynamic import"):
        "an offline backend class from the fixed OFFLINE_CLASSES table",
    ("models/stack.py", "backend_class", "dynamic import"):
        "the backend class of a model card from the fixed BACKEND_CLASSES table",
    ("models/loading.py", "library_class", "dynamic import"):
        "transformers or diffusers, as the model card's backend table says",
    ("bench/semantic_agreement.py", "status", "dynamic import"):
        "availability check of a fixed list of model packages",
    ("bench/schemes.py", "load_scheme_modules", "dynamic import"):
        "the built-in SCHEME_MODULES, and `gensemcom bench --plugin MODULE` (named by the user on "
        "the command line)",
}


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _keyword(call, name):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_true(node):
    return isinstance(node, ast.Constant) and node.value is True


def _findings(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = path.relative_to(PACKAGE).as_posix()
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def function_of(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node.name
        return "<module>"

    out = []

    def flag(node, rule, text):
        out.append((relative, function_of(node), rule, node.lineno, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PICKLE_MODULES:
                    flag(node, "pickle", f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
            flag(node, "pickle", f"from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and _dotted(node) in {"yaml.Loader", "yaml.UnsafeLoader",
                                                                   "yaml.FullLoader"}:
            flag(node, "yaml", _dotted(node))
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.split(".")[-1]
            if isinstance(node.func, ast.Name) and name in {"eval", "exec", "compile"}:
                flag(node, "eval", f"{name}()")
            elif name.startswith("yaml.") and last in UNSAFE_YAML:
                loader = _keyword(node, "Loader")
                if loader is None or _dotted(loader).split(".")[-1] not in SAFE_LOADERS:
                    flag(node, "yaml", f"{name}() without a safe Loader")
            elif name == "torch.load" and not _is_true(_keyword(node, "weights_only")):
                flag(node, "torch.load", "torch.load without weights_only=True")
            elif name in {"torch.jit.load", "pandas.read_pickle", "pd.read_pickle", "os.system", "os.popen"}:
                flag(node, "exec", f"{name}()")
            elif last in {"import_module", "__import__"} and node.args \
                    and not isinstance(node.args[0], ast.Constant):
                flag(node, "dynamic import", f"{name}({ast.unparse(node.args[0])})")
            if _is_true(_keyword(node, "allow_pickle")):
                flag(node, "pickle", f"{name}(allow_pickle=True)")
            if _is_true(_keyword(node, "shell")):
                flag(node, "exec", f"{name}(shell=True)")
            if _is_true(_keyword(node, "trust_remote_code")):
                flag(node, "exec", f"{name}(trust_remote_code=True)")
            safetensors = _keyword(node, "use_safetensors")
            if isinstance(safetensors, ast.Constant) and safetensors.value is False:
                flag(node, "pickle", f"{name}(use_safetensors=False)")
    return out


def test_nothing_is_unpickled_or_executed():
    findings = [f for path in sorted(PACKAGE.rglob("*.py")) for f in _findings(path)]
    unexpected = [f for f in findings if f[:3] not in ALLOWED]
    assert not unexpected, "\n".join(f"{f[0]}:{f[3]} in {f[1]}(): {f[4]} [{f[2]}]" for f in unexpected)


def test_allowlist_has_no_stale_entries():
    findings = {f[:3] for path in sorted(PACKAGE.rglob("*.py")) for f in _findings(path)}
    stale = [key for key in ALLOWED if key not in findings]
    assert not stale, f"remove these ALLOWED entries, the code no longer does it: {stale}"


def test_the_scanner_catches_what_it_should(tmp_path, monkeypatch):
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import pickle\nimport yaml, torch, numpy as np, subprocess, importlib\n"
        "def f(x, name):\n"
        "    eval(x); exec(x)\n"
        "    yaml.load(x)\n    yaml.load(x, Loader=yaml.SafeLoader)\n    yaml.safe_load(x)\n"
        "    torch.load(x)\n    torch.load(x, weights_only=True)\n"
        "    np.load(x, allow_pickle=True)\n    np.load(x)\n"
        "    subprocess.run(x, shell=True)\n    importlib.import_module(name)\n"
        "    M.from_pretrained(x, use_safetensors=False, trust_remote_code=True)\n"
        "    model.eval()\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    rules = sorted(f[2] for f in _findings(sample))
    assert rules == sorted(["pickle", "eval", "eval", "yaml", "torch.load", "pickle", "exec",
                            "dynamic import", "pickle", "exec"])


def test_weights_and_adapters_are_safetensors_only():
    """Every from_pretrained of a model card goes through weights.load_kwargs (use_safetensors=True,
    local files only), downloads fetch no pickles, and adapters are found by their safetensors."""
    weights = (PACKAGE / "models" / "weights.py").read_text()
    assert '"use_safetensors": True' in weights
    assert '"trust_remote_code": card.trust_remote_code' in weights
    patterns = weights.split("DOWNLOAD_PATTERNS = ", 1)[1].split("\n", 1)[0]
    for pickled in ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl"):
        assert pickled not in patterns
    loading = (PACKAGE / "models" / "loading.py").read_text()
    assert 'glob("*.safetensors")' in loading
    finetune = (PACKAGE / "models" / "finetune.py").read_text()
    assert "torch.save" not in finetune and "safetensors" in finetune
