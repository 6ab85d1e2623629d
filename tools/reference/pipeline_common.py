"""Shared parts of the whole-pipeline conformance driver: stand-ins that make the public Wan 2.1 pipeline
importable without diffusers (and without ftfy, regex or tqdm where a machine lacks them), the loading of
public files by path under stand-in packages, and the relative-error row with its bound.

The stand-ins replace only what the public code imports for bookkeeping: diffusers' config and scheduler
mixins (which record constructor arguments as `self.config`), its model loading (`from_pretrained` from a
folder's config.json and diffusion_pytorch_model.safetensors) and small utilities. The public modules'
code is not changed.
"""

import enum
import functools
import importlib.util
import inspect
import json
import os
import re
import sys
import types
from dataclasses import dataclass


def _module(name):
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        sys.modules[name] = module
    return module


def install_diffusers_stand_in(torch):
    """Minimal diffusers: ConfigMixin, register_to_config, ModelMixin.from_pretrained, the scheduler base
    classes and the two utilities the public solvers import. Returns nothing; fills sys.modules."""

    def register_to_config(init):
        signature = inspect.signature(init)

        @functools.wraps(init)
        def wrapped(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            values = {k: v for k, v in bound.arguments.items() if k not in ("self", "kwargs")}
            # Set through __dict__ so that it works on an nn.Module before Module.__init__ ran.
            self.__dict__["config"] = types.SimpleNamespace(**values)
            return init(self, *args, **kwargs)
        return wrapped

    class ConfigMixin:
        def register_to_config(self, **kwargs):
            for key, value in kwargs.items():
                setattr(self.config, key, value)

    class ModelMixin(torch.nn.Module):
        @classmethod
        def from_pretrained(cls, folder):
            """The official folder's config.json and diffusion_pytorch_model.safetensors, in float32 (as
            diffusers loads without a torch_dtype)."""
            from safetensors.torch import load_file
            with open(os.path.join(folder, "config.json")) as f:
                config = json.load(f)
            accepted = inspect.signature(cls.__init__).parameters
            model = cls(**{k: v for k, v in config.items() if k in accepted})
            state = load_file(os.path.join(folder, "diffusion_pytorch_model.safetensors"))
            model.load_state_dict({k: v.float() for k, v in state.items()})
            return model.float()

    class SchedulerMixin:
        pass

    @dataclass
    class SchedulerOutput:
        prev_sample: object

    KarrasDiffusionSchedulers = enum.Enum("KarrasDiffusionSchedulers", ["EulerDiscreteScheduler"])

    def deprecate(*args, **kwargs):
        pass

    def randn_tensor(*args, **kwargs):
        raise NotImplementedError("randn_tensor is used only by the stochastic DPM++ variant, which this driver does not run.")

    _module("diffusers")
    _module("diffusers.configuration_utils").ConfigMixin = ConfigMixin
    sys.modules["diffusers.configuration_utils"].register_to_config = register_to_config
    _module("diffusers.models")
    _module("diffusers.models.modeling_utils").ModelMixin = ModelMixin
    _module("diffusers.schedulers")
    scheduling = _module("diffusers.schedulers.scheduling_utils")
    scheduling.SchedulerMixin = SchedulerMixin
    scheduling.SchedulerOutput = SchedulerOutput
    scheduling.KarrasDiffusionSchedulers = KarrasDiffusionSchedulers
    utils = _module("diffusers.utils")
    utils.deprecate = deprecate
    utils.is_scipy_available = lambda: False
    _module("diffusers.utils.torch_utils").randn_tensor = randn_tensor


def install_optional_stand_ins():
    """Stand-ins for packages the public pipeline imports that a machine may lack; returns the names stood in.
    ftfy: identity (use prompts on which ftfy.fix_text changes nothing that basic_clean's html.unescape does not); regex: the standard re
    (the public code uses only re.sub with \\s+); tqdm: the plain iterable."""
    stood_in = []
    for name, fill in (("ftfy", lambda m: setattr(m, "fix_text", lambda text, **kwargs: text)),
                       ("regex", lambda m: m.__dict__.update({"sub": re.sub})),
                       ("tqdm", lambda m: setattr(m, "tqdm", lambda iterable, *args, **kwargs: iterable))):
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            fill(module)
            sys.modules[name] = module
            stood_in.append(name)
    return stood_in


def stand_in_packages(wan_repo, names):
    """Empty packages `wan`, `wan.modules`, ... whose __path__ is the checkout's folder, so that public
    files load by path without running any __init__.py (which would import every pipeline)."""
    root = os.path.abspath(wan_repo)
    for name in names:
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, *name.split("."))]
        sys.modules[name] = package


def load_by_path(wan_repo, name):
    """Imports the public file for module `name` (e.g. wan.modules.t5) from the checkout."""
    path = os.path.join(os.path.abspath(wan_repo), *name.split(".")) + ".py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def relative_error(reference, ours, torch):
    """||ours - reference|| / ||reference||, Frobenius, in float64."""
    reference, ours = reference.double(), ours.double()
    if reference.shape != ours.shape:
        raise SystemExit(f"reference shape {tuple(reference.shape)}, ours {tuple(ours.shape)}")
    return (torch.linalg.vector_norm(ours - reference) / torch.linalg.vector_norm(reference)).item()


def report_row(label, keys, errors, bound):
    """Prints `| label | e1 | e2 | ... | bound |` and exits 1 when a bound is given and an error is above it."""
    shown = f"{bound:g}" if bound is not None else "(information)"
    print(f"| {label} | " + " | ".join(f"{e:.1e}" for e in errors) + f" | {shown} |")
    if bound is not None:
        failed = [k for k, e in zip(keys, errors) if not e <= bound]
        if failed:
            print(f"FAILED: {', '.join(failed)} above {bound:g}", file=sys.stderr)
            sys.exit(1)
