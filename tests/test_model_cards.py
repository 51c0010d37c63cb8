import json
import shutil
import sys
from pathlib import Path

import pytest
import timm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import make_model_cards as cards  # noqa: E402  (also registers vitzoo's models)

CLASSIFIER_PATTERNS = ("vz_*", "hornet_*", "rmt_*", "slab_*", "soft_*", "sret_*", "vit_resnas_*", "sparseformer_*")


@pytest.fixture
def card_copy(tmp_path, monkeypatch):
    """The cards and their data in a scratch folder, so a test can change them."""
    folder = tmp_path / "model_cards"
    shutil.copytree(cards.CARDS, folder)
    for name, value in dict(
        CARDS=folder, MEASUREMENTS=folder / cards.MEASUREMENTS.name, REPORTED=folder / cards.REPORTED.name,
        PLOT=folder / cards.PLOT.name, ROOT=tmp_path,
    ).items():
        monkeypatch.setattr(cards, name, value)
    return folder


def test_committed_cards_are_what_the_generator_writes(capsys):
    assert cards.main(["--check"]) == 0, capsys.readouterr().err
    assert cards.PLOT.is_file()


def test_check_fails_on_an_edited_card_and_a_plain_run_restores_it(card_copy, capsys):
    swin = card_copy / "swin.md"
    generated = swin.read_text()
    swin.write_text(generated.replace("| 28.29 |", "| 28.30 |", 1))
    assert cards.main(["--check"]) == 1
    assert "model_cards/swin.md differs from the generated card" in capsys.readouterr().err
    assert cards.main([]) == 0
    assert swin.read_text() == generated and cards.main(["--check"]) == 0


def test_check_recounts_cached_params_on_the_meta_device(card_copy, capsys):
    measurements = json.loads(cards.MEASUREMENTS.read_text())
    measurements["rmt_t"]["params_m"] += 1
    cards.MEASUREMENTS.write_text(json.dumps(measurements))
    assert cards.main(["--check"]) == 1
    assert "rmt_t: 14.3342M params now" in capsys.readouterr().err


def test_every_registered_classifier_has_a_row_and_measurements():
    rows = [row for family in cards.FAMILIES for row in cards.family_rows(family)]
    registered = {name for pattern in CLASSIFIER_PATTERNS for name in timm.list_models(pattern)}
    assert registered <= {row.arch for row in rows}
    measurements = json.loads(cards.MEASUREMENTS.read_text())
    assert set(cards.measurement_keys(rows)) == set(measurements)
    assert all("gflops" in m or "error" in m for m in measurements.values())


def test_reported_numbers_name_registered_models_and_tags():
    numbers, sources = cards.load_reported()
    for name in numbers:
        arch, _, tag = name.partition(".")
        assert arch in timm.list_models(), name
        assert not tag or name in timm.models.get_arch_pretrained_cfgs(arch), name
    assert all(source["cite"] and source["models"] for source in sources)


def test_missing_reported_numbers_show_as_dashes():
    numbers, sources = cards.load_reported()
    measurements = json.loads(cards.MEASUREMENTS.read_text())
    hornet = next(f for f in cards.FAMILIES if f.card == "hornet")
    table = cards.variants_table(hornet, measurements, numbers, sources)
    no_weights = next(line for line in table.splitlines() if line.startswith("| `hornet_base_gf_img384`"))
    cells = [cell.strip() for cell in no_weights.split("|")[1:-1]]
    assert cells[6:9] == ["—", "—", "—"] and cells[9] == "none released"
    bare = cards.variants_table(hornet, measurements, {}, sources)
    assert "The authors report no numbers for these models." in bare


def test_a_source_may_not_repeat_another_sources_number(card_copy):
    data = json.loads(cards.REPORTED.read_text())
    data["sources"].append(dict(cite="a second source", models={"rmt_t": {"top1": 80.0}}))
    cards.REPORTED.write_text(json.dumps(data))
    with pytest.raises(SystemExit, match=r"rmt_t has \['top1'\] from two sources"):
        cards.load_reported()


def test_card_without_markers_is_refused(card_copy):
    (card_copy / "rmt.md").write_text("# RMT\n\nno table markers\n")
    with pytest.raises(SystemExit, match="needs one <!-- generated:variants --> .* block"):
        cards.main([])


def test_measure_matches_the_cache_and_refuses_unknown_models(card_copy, monkeypatch):
    monkeypatch.setattr(cards, "TIMED_ITERS", 1)
    threads = torch.get_num_threads()
    try:
        measured = cards.measure("slab_pvt_v2_b0", {}, timed=True)
    finally:
        torch.set_num_threads(threads)
    cached = json.loads(cards.MEASUREMENTS.read_text())["slab_pvt_v2_b0"]
    assert measured["params_m"] == cached["params_m"] and measured["gflops"] == cached["gflops"]
    assert measured["timed_iters"] == 1 and measured["img_per_s"] > 0
    with pytest.raises(SystemExit, match="not a model of any card: no_such_model"):
        cards.main(["--measure", "no_such_model"])
