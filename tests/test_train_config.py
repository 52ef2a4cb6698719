"""accent.training.config: ``base:`` inheritance, dotted keys, overrides, resolution; the recipe's
config tree covers every table row and builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from accent.training import build_model, load_config, parse_overrides, resolve_config
from accent.models.zoo import DEMO_ENCODERS
from accent.training.config import ConfigError, deep_merge, dump_config, experiment_name

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "egs" / "aesrc" / "conf"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_base_inheritance_dotted_keys_and_component_replacement(tmp_path) -> None:
    write(tmp_path / "a" / "base.yaml", """
task: accent
model:
  encoder: {name: jasper, channels: [8, 8], kernels: [3, 3]}
  pooling: {name: transformer_aggregator, d_model: 32}
  head: {name: circle, scale: 30, margin: 0.2}
optim: {name: adam, lr: 0.001}
""")
    write(tmp_path / "a" / "mid.yaml", "base: base.yaml\nmodel.encoder.channels: [16, 16]\noptim.lr: 0.002\n")
    write(tmp_path / "extra.yaml", "train.epochs: 3\n")
    row = write(tmp_path / "a" / "row.yaml", """
base: [mid.yaml, ../extra.yaml]
model.head: {name: softmax}
model.pooling: avg
optim: {name: adamw}
""")
    cfg = load_config(row)
    assert cfg["model"]["encoder"] == {"name": "jasper", "channels": [16, 16], "kernels": [3, 3]}
    assert cfg["model"]["head"] == {"name": "softmax"}  # another component: the circle options are gone
    assert cfg["model"]["pooling"] == "avg"
    assert cfg["optim"] == {"name": "adamw", "lr": 0.002}  # sections merge whatever their 'name'
    assert cfg["train"] == {"epochs": 3}
    # the same component name merges
    merged = deep_merge({"m": {"h": {"name": "circle", "margin": 0.2}}}, {"m": {"h": {"name": "circle", "scale": 5}}})
    assert merged == {"m": {"h": {"name": "circle", "margin": 0.2, "scale": 5}}}


def test_base_cycle_missing_file_and_bad_yaml(tmp_path) -> None:
    write(tmp_path / "x.yaml", "base: y.yaml\n")
    write(tmp_path / "y.yaml", "base: x.yaml\n")
    with pytest.raises(ConfigError, match="circular 'base:' chain"):
        load_config(tmp_path / "x.yaml")
    write(tmp_path / "z.yaml", "base: nope.yaml\n")
    with pytest.raises(FileNotFoundError, match="nope.yaml: config not found"):
        load_config(tmp_path / "z.yaml")
    write(tmp_path / "bad.yaml", "model: [\n")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_overrides_and_resolution_rules() -> None:
    o = parse_overrides(["optim.lr=5e-4", "model.head={name: arcface, margin: 0.3}", "train.amp=none"])
    assert o == {"optim": {"lr": 5e-4}, "model": {"head": {"name": "arcface", "margin": 0.3}}, "train": {"amp": "none"}}
    with pytest.raises(ConfigError, match="expected key.path=value"):
        parse_overrides(["optim.lr"])
    base = {"model": {"encoder": {"name": "crnn"}}}
    cfg = resolve_config(base)
    assert cfg["method"] == "scratch" and cfg["model"]["ctc_weight"] == 0.0 and cfg["optim"]["clip_grad"] == 5.0
    assert resolve_config({**base, "method": "mtl"})["model"]["ctc_weight"] == 0.1  # the method's default
    with pytest.raises(ConfigError, match="method mtl is multi-task"):
        resolve_config({"method": "mtl", "model": {"encoder": {"name": "crnn"}, "ctc_weight": 0}})
    with pytest.raises(ConfigError, match="method hybrid needs model.reference_encoder"):
        resolve_config({**base, "method": "hybrid"})
    with pytest.raises(ConfigError, match="only used by method hybrid"):
        resolve_config({"model": {"encoder": {"name": "crnn"}, "reference_encoder": "same"}})
    with pytest.raises(ConfigError, match=r"unknown train key 'epoch'\. Did you mean 'epochs'\?"):
        resolve_config({**base, "train": {"epoch": 3}})
    with pytest.raises(ConfigError, match="unknown top-level key 'trian'. Did you mean 'train'"):
        resolve_config({**base, "trian": {}})
    # the dump is YAML that reads back to the same dict
    import yaml

    assert yaml.safe_load(dump_config(cfg)) == cfg
    assert experiment_name("conf/hybrid/mtl_l0.2.yaml") == "hybrid_mtl_l0.2"


PAPER_ROWS = (
    [f"baseline/transformer_l{n}{s}.yaml" for n in (3, 6, 12) for s in ("", "_asr_init")]
    + [f"sarnet/{row}{c}.yaml" for c in ("", "_noctc") for row in
       ["softmax"] + [f"{h}_m{m}" for h in ("cosface", "arcface", "circle") for m in ("0.1", "0.2", "0.3")]
       + [f"circle_m0.2_{p}" for p in ("bigru", "netvlad", "ghostvlad")]]
    + ["hybrid/scratch.yaml", "hybrid/asr_init.yaml"]
    + [f"hybrid/mtl_l{l}.yaml" for l in ("0.1", "0.2", "0.3")]
    + [f"hybrid/hybrid_{f}_l{l}.yaml" for f in ("add", "concat", "concat_ca") for l in ("0.1", "0.2", "0.3")]
)
DEMO = ["demo/hybrid/scratch.yaml", "demo/hybrid/asr_init.yaml", "demo/hybrid/mtl.yaml", "demo/hybrid/hybrid.yaml",
        "demo/sarnet_circle.yaml", "demo/baseline_transformer.yaml"]
ASR = ["asr_jasper.yaml", "asr_transformer_l3.yaml", "asr_transformer_l6.yaml", "asr_transformer_l12.yaml",
       "demo/asr_jasper.yaml"]


def test_recipe_configs_cover_every_table_row_and_resolve() -> None:
    for rel in PAPER_ROWS + DEMO + ASR:
        path = CONF / rel
        assert path.is_file(), rel
        cfg = resolve_config(load_config(path), rel)
        assert cfg["task"] == ("asr" if "asr_" in Path(rel).name and "asr_init" not in rel else "accent")
    get = lambda rel: resolve_config(load_config(CONF / rel))  # noqa: E731
    # a few rows, spot-checked against the papers' tables
    c = get("hybrid/hybrid_concat_ca_l0.3.yaml")
    assert (c["method"], c["model"]["ctc_weight"], c["model"]["fusion"], c["model"]["encoder"]["name"]) == \
        ("hybrid", 0.3, "concat_ca", "jasper")
    assert c["model"]["pooling"]["name"] == "transformer_aggregator"
    c = get("sarnet/arcface_m0.3_noctc.yaml")
    assert c["model"]["head"] == {"name": "arcface", "scale": 30, "margin": 0.3} and c["model"]["ctc_weight"] == 0.0
    c = get("sarnet/circle_m0.2_ghostvlad.yaml")
    assert c["model"]["pooling"]["name"] == "ghostvlad" and c["model"]["head"]["margin"] == 0.2
    assert c["model"]["ctc_weight"] > 0
    c = get("baseline/transformer_l6_asr_init.yaml")
    assert (c["method"], c["model"]["encoder"]["num_layers"], c["asr_checkpoint"]) == \
        ("asr_init", 6, "exp/asr_transformer_l6/best.pt")
    assert get("asr_transformer_l6.yaml")["model"]["encoder"] == {**c["model"]["encoder"]}
    # ASR-init needs the same encoder architecture in the ASR and accent configs
    for rel in ("hybrid/mtl_l0.1.yaml",):
        assert get(rel)["model"]["encoder"] == get("asr_jasper.yaml")["model"]["encoder"]
    for rel in DEMO[:4]:
        c = get(rel)
        assert c["model"]["encoder"] == get("demo/asr_jasper.yaml")["model"]["encoder"]
        assert c["asr_checkpoint"] == "exp/demo_asr_jasper/best.pt"


def test_demo_models_build_and_match_the_benchmark_sizes() -> None:
    labels, units = [f"A{i}" for i in range(8)], [f"u{i}" for i in range(40)]
    x = torch.randn(2, 150, 40)
    lens = torch.tensor([150, 120])
    for rel in DEMO + ["demo/asr_jasper.yaml"]:
        cfg = resolve_config(load_config(CONF / rel))
        model = build_model(cfg, 40, labels, units).eval()
        _, out = model({"feats": x, "lengths": lens})
        assert out["ctc_log_probs"] is not None or out["logits"].shape == (2, 8)
        name = cfg["model"]["encoder"]["name"]
        assert cfg["model"]["encoder"] == DEMO_ENCODERS[name], rel


def test_paper_size_models_build() -> None:
    labels, units = [f"A{i}" for i in range(8)], [f"u{i}" for i in range(40)]
    sizes = {}
    rows = ("hybrid/hybrid_concat_ca_l0.1.yaml", "sarnet/circle_m0.2_netvlad.yaml", "baseline/transformer_l12.yaml")
    for rel in rows:
        model = build_model(resolve_config(load_config(CONF / rel)), 40, labels, units)
        sizes[rel] = sum(p.numel() for p in model.trainable_parameters())
        if "hybrid_" in rel:  # the frozen reference AM is as big as the trainable one and not trained
            assert (sum(p.numel() for p in model.reference_encoder.parameters())
                    == sum(p.numel() for p in model.encoder.parameters()) > 1_000_000)
            assert not any(p.requires_grad for p in model.reference_encoder.parameters())
    assert all(n > 1_000_000 for n in sizes.values()), sizes


@pytest.mark.parametrize("mistake, message", [
    ("model.embed_dimm: 16", r"unknown model key 'embed_dimm'\. Did you mean 'embed_dim'"),
    ("model.encoder.chanels: [4, 8]", r"model\.encoder: unknown encoder 'crnn' option 'chanels'\. Did you mean 'channels'"),
    ("model.encoder.name: crn", r"model\.encoder: unknown encoder 'crn'\. Did you mean 'crnn'"),
    ("model.pooling: {name: asp, bottleneck: 8}", r"model\.pooling: unknown pooling 'asp' option 'bottleneck'\. "
                                                  r"Did you mean 'bottleneck_dim'"),
    ("train.epochs: four", r"train\.epochs must be an integer, got 'four'"),
    ("train.epochs: 0", r"train\.epochs must be >= 1, got 0"),
    ("optim.lr: -1", r"optim\.lr must be > 0, got -1"),
    ("optim.lr: fast", r"optim\.lr must be a number, got 'fast'"),
    ("data.max_frames: 2.5", r"data\.max_frames must be an integer, got 2\.5"),
])
def test_config_mistakes_name_the_file_and_key(tmp_path, mistake, message) -> None:
    assert resolve_config({"model": {"encoder": {"name": "crnn"}}, "optim": {"clip_grad": None}})  # null: no clipping
    """Each used to surface as a traceback from deep inside the model or the optimiser (or, for
    epochs 0, as a finished experiment without a model)."""
    conf = tmp_path / "x.yaml"
    conf.write_text("model.encoder: {name: crnn}\n" + mistake + "\n")
    with pytest.raises(ConfigError, match=f"^{conf}: {message}"):
        resolve_config(load_config(conf), where=str(conf))
