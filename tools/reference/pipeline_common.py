"""What the whole-pipeline conformance driver needs beyond conformance_common.py: stand-ins that make the public
Wan 2.1 pipeline importable without diffusers (and without ftfy, regex or tqdm where a machine lacks them), and
the loading of public files outside wan/modules (the solvers, the pipeline) by path under stand-in packages.

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


def load_by_path(wan_repo, name):
    """Imports the public file of module `name` (wan.text2video, wan.utils.fm_solvers, ...) from the checkout
    under stand-in packages (empty modules whose __path__ is the checkout's folder), so that no __init__.py
    runs (wan/__init__.py and wan/utils/__init__.py import every pipeline); wan/modules files go through
    conformance_common.load_wan_module, which makes the same packages."""
    root = os.path.abspath(wan_repo)
    parts = name.split(".")
    for depth in range(1, len(parts)):
        package_name = ".".join(parts[:depth])
        if package_name not in sys.modules:
            package = types.ModuleType(package_name)
            package.__path__ = [os.path.join(root, *parts[:depth])]
            sys.modules[package_name] = package
    path = os.path.join(root, *parts) + ".py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
