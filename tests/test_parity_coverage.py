"""Which fixture families vitzoo checks; a family without an implementation is reported, not passed."""
import pytest

from parity_utils import fixture_families, parity_available

# family -> test module that runs every fixture of the family through the user path
COVERED_FAMILIES = {
    "swin": "test_swin.py",
    "tnt": "test_tnt.py",
    "hornet": "test_hornet.py",
    "rmt": "test_rmt.py",
    "slab": "test_slab.py",
    "soft": "test_soft.py",
    "sret": "test_sret.py",
    "vit_resnas": "test_vit_resnas.py",
    "sparseformer": "test_sparseformer.py",
    "dvt": "test_dvt.py",
}

FAMILIES = sorted(fixture_families()) if parity_available() else []


@pytest.mark.parametrize("family", FAMILIES)
def test_family_covered(family, request):
    if family not in COVERED_FAMILIES:
        names = ", ".join(fixture_families()[family])
        pytest.skip(f"family {family!r} is not implemented in vitzoo yet; its fixtures ({names}) are unchecked")
    module = request.path.parent / COVERED_FAMILIES[family]
    assert module.is_file(), f"{module} is missing"
    assert f'fixture_names("{family}")' in module.read_text(), f"{module.name} does not run the {family} fixtures"


def test_fixtures_present():
    if not parity_available():
        pytest.skip("parity fixtures not beside this clone")
    assert FAMILIES, "fixture directory holds no fixtures"
    assert set(COVERED_FAMILIES) <= set(FAMILIES), set(COVERED_FAMILIES) - set(FAMILIES)
