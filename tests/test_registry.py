"""Finding baselines: names, entry points, module:attr and file.py:attr plug-ins."""

from __future__ import annotations

import json
import textwrap

import pytest

import scalesearch
from scalesearch.errors import ScalesearchError

PLUGIN = textwrap.dedent('''
    import torch
    from torch import nn
    from scalesearch import Head, Scalable, Stage, StageTable, Stem

    # A user network written as a stage table: scaling comes for free.
    TINY = StageTable(
        name="tiny", stem=Stem(16), image_size=64, num_classes=10,
        stages=(Stage("mbconv", 1, 16, expand=1), Stage("mbconv", 2, 24, stride=2, expand=4,
                se=0.25), Stage("bottleneck", 2, 64, stride=2, expand=0.25)),
        head=Head(128), act="silu")

    class Custom(Scalable):
        """An arbitrary network that applies d and w itself, with an op fvcore cannot count."""
        name = "custom"
        image_size = 32

        def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
            return CustomNet(round(16 * width), max(1, round(2 * depth)), num_classes or 10)

    class CustomNet(nn.Module):
        def __init__(self, ch, layers, classes):
            super().__init__()
            self.stem = nn.Conv2d(3, ch, 3, 2, 1)
            self.convs = nn.ModuleList(nn.Conv2d(ch, ch, 3, 1, 1) for _ in range(layers))
            self.proj = nn.Parameter(torch.randn(ch, ch))
            self.fc = nn.Linear(ch, classes)

        def forward(self, x):
            x = self.stem(x)
            for conv in self.convs:
                x = torch.relu(conv(x))
            x = x.mean((2, 3))
            x = torch.einsum("bc,cd->bd", x, self.proj)  # not conv/linear: fvcore fallback
            return self.fc(x)

    def factory():
        return TINY

    NOT_A_NET = 42
''')


@pytest.fixture
def plugin(tmp_path):
    path = tmp_path / "mynets.py"
    path.write_text(PLUGIN)
    return path


@pytest.mark.parametrize("name,canonical", [
    ("resnet50", "resnet50"), ("ResNet-50", "resnet50"), ("resnet_50", "resnet50"),
    ("mobilenetv2", "mobilenet-v2"), ("MobileNet_V1", "mobilenet-v1"),
    ("EfficientNetB0", "efficientnet-b0"),
])
def test_builtin_names_ignore_case_dash_underscore(name, canonical):
    assert scalesearch.resolve(name).name == canonical


def test_builtins_come_from_the_entry_point_group():
    names = {info.name for info in scalesearch.available()}
    assert {"efficientnet-b0", "mobilenet-v1", "mobilenet-v2", "resnet50"} <= names


def test_module_attr_spec():
    net = scalesearch.resolve("scalesearch_baselines.resnet:RESNET50")
    assert net.name == "resnet50"


def test_stage_table_plugin_gets_scaling_for_free(plugin):
    base = scalesearch.scale(f"{plugin}:TINY")
    net = scalesearch.scale(f"{plugin}:TINY", phi=2)
    assert net.image_size == 84  # round(64 · 1.15² / 4) · 4
    assert net.counts.flops > 2.5 * base.counts.flops
    assert [r["repeats"] for r in net.to_dict()["stages"][1:-1]] == [2, 3, 3]
    assert scalesearch.scale(f"{plugin}:factory").counts == base.counts  # zero-arg factory


def test_custom_scalable_plugin_falls_back_to_fvcore(plugin):
    with pytest.warns(UserWarning, match="fvcore"):
        net = scalesearch.scale(f"{plugin}:Custom", depth=2, width=2)
    assert net.counts.method == "fvcore"
    # 32 px → 16² positions: stem 3·32·9·256 + 4 convs 32·32·9·256 + fc 32·10 (+ einsum, which
    # fvcore counts too: 32·32)
    expected = 3 * 32 * 9 * 256 + 4 * 32 * 32 * 9 * 256 + 32 * 10 + 32 * 32
    assert net.counts.flops == expected
    assert net.image_size == 32 and net.to_dict()["stages"] is None


def test_fvcore_fallback_is_said_once_per_network(plugin, cli):
    """One `scale` measures the baseline and the scaled network: one warning, not two; a
    later scaling of the same network in the process adds none."""
    code, _, err = cli("scale", "--baseline", f"{plugin}:Custom", "--depth", "2")
    assert code == 0 and err.count("counted with fvcore") == 1, err
    assert "custom: counted with fvcore" in err
    code, _, err = cli("scale", "--baseline", f"{plugin}:Custom", "--width", "3")
    assert code == 0 and "counted with fvcore" not in err


@pytest.mark.parametrize("spec,message", [
    ("resnet51", "unknown baseline"),
    ("", "no baseline"),
    ("no_such_module_xyz:NET", "cannot load baseline"),
    ("scalesearch_baselines.resnet:NOPE", "cannot load baseline"),
    ("missing/file.py:NET", "not found"),
])
def test_bad_specs(spec, message):
    with pytest.raises(ScalesearchError, match=message):
        scalesearch.resolve(spec)


def test_missing_attribute_names_the_file_and_what_it_defines(plugin, cli):
    code, out, err = cli("scale", "--baseline", f"{plugin}:Nope")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"{plugin} has no attribute 'Nope'" in err
    assert err.strip().endswith("its Scalable / StageTable attributes: Custom, TINY")
    assert "scalesearch_plugin_" not in err  # the internal module name is not the user's file
    with pytest.raises(ScalesearchError, match="scalesearch_baselines.resnet has no attribute "
                       "'NOPE'; its Scalable / StageTable attributes: R50, RESNET50$"):
        scalesearch.resolve("scalesearch_baselines.resnet:NOPE")


def test_plugin_with_wrong_type_or_syntax_error(plugin, tmp_path):
    with pytest.raises(ScalesearchError, match="not a Scalable"):
        scalesearch.resolve(f"{plugin}:NOT_A_NET")
    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    with pytest.raises(ScalesearchError, match="SyntaxError"):
        scalesearch.resolve(f"{broken}:NET")


_PLUGIN = '''
import torch
from torch import nn

from scalesearch.scaling.scalable import Scalable


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, width, 3), nn.Linear(width, 10)

    def forward(self, x):
        FORWARD
        return self.fc(self.conv(x).mean((2, 3)))


class Plugin(Scalable):
    name = "my-net"
    image_size = 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        BUILD
        return Net(round(8 * width))


NET = Plugin()
'''


@pytest.mark.parametrize("forward, build, phi, says", [
    ("pass", "return None", 1, "my-net built at d=1, w=1 and fed 32 px: TypeError: build() "
     "returned NoneType, not a torch.nn.Module"),
    ("pass", "raise ValueError('bad width')", 1, "my-net built at d=1, w=1 and fed 32 px: "
     "ValueError: bad width"),
    ("pass", "return nn.Identity()", 1, "my-net built at d=1, w=1 and fed 32 px: the network "
     "has no parameters or no FLOPs (0 params, 0 FLOPs): nothing to scale"),
    ("if x.shape[-1] > 64: raise RuntimeError(f'boom at {x.shape[-1]} px')", "pass", 6,
     "fed 76 px: RuntimeError: boom at 76 px"),
])
def test_a_failing_plug_in_is_one_line_naming_it_the_call_and_the_error(cli, tmp_path, forward,
                                                                        build, phi, says):
    """Issue 23 item 11: these were AttributeError, ValueError, ZeroDivisionError and
    RuntimeError tracebacks."""
    (tmp_path / "net.py").write_text(_PLUGIN.replace("FORWARD", forward).replace("BUILD", build))
    code, _, err = cli("scale", "--baseline", f"{tmp_path / 'net.py'}:NET", "--phi", str(phi))
    assert code == 2 and says in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_plug_in_prints_to_stderr_and_imports_what_lies_beside_it(cli, tmp_path):
    (tmp_path / "helper.py").write_text("WIDTH = 1.5\n")
    code = _PLUGIN.replace("FORWARD", "pass").replace(
        "BUILD", "print('building', width)\n        import helper\n        width *= helper.WIDTH")
    (tmp_path / "net.py").write_text("print('loading my-net')\n" + code)
    status, out, err = cli("scale", "--baseline", f"{tmp_path / 'net.py'}:NET", "--phi", "1",
                           "--format", "json")
    assert status == 0, err
    assert json.loads(out)["baseline"] == "my-net"  # stdout is the JSON alone
    assert "loading my-net" in err and "building" in err
