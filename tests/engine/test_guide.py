"""情形引导 in the engine: the items and time limit come from running the bundle's own diagram."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cases.guide import gateway_fields
from engine.errors import BundleNotFound
from engine.service import Engine
from tests.support.engines import make_engine

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("guide")
    eng = make_engine(f"sqlite:///{folder / 'guide.db'}", folder)
    for key in ("enterprise-startup", "school-enrollment", "ipo-compliance-check"):
        eng.deployments.deploy_dir(PROCESSES / key)
    yield eng
    eng.close()


def test_the_gateways_fields_are_found_in_the_diagram(engine: Engine) -> None:
    with engine.db.read() as s:
        row = engine.deployments.latest(s, "enterprise-startup")
    assert gateway_fields(engine.deployments.definition(row)) == {"invoice_needed", "has_employees"}


def test_full_answers_give_one_route_and_its_time_limit(engine: Engine) -> None:
    guide = engine.guide("enterprise-startup", {"has_employees": "false", "invoice_needed": "false"})
    assert guide.complete
    assert [i.key for i in guide.items] == [
        "business-registration",
        "seal-engraving",
        "tax-registration",
        "bank-account-opening",
    ]
    assert all(i.always for i in guide.items)
    assert guide.items[0].department["zh"] == "市场监督管理局"
    assert guide.days == 2.0 and guide.all_items == 8
    assert guide.prefill() == {"has_employees": "false", "invoice_needed": "false"}
    assert [m.entry.kind for m in guide.materials] == ["articles_of_association", "premises_proof"]
    assert {e.kind for e in guide.exempt} == {"legal_rep_id_card", "business_licence"}


def test_open_questions_show_what_depends_on_them(engine: Engine) -> None:
    guide = engine.guide("enterprise-startup", {"has_employees": "true", "invoice_needed": "maybe"})
    assert not guide.complete and guide.answers == {"has_employees": True}
    depends = {i.key for i in guide.items if not i.always}
    assert depends == {"invoice-issue"}
    assert "social-insurance-registration" in {i.key for i in guide.items if i.always}


def test_a_choice_changes_the_items_and_the_materials(engine: Engine) -> None:
    owned = engine.guide("school-enrollment", {"housing_type": "owned", "household_location": "local"})
    rented = engine.guide("school-enrollment", {"housing_type": "rented", "household_location": "non_local"})
    assert {i.key for i in owned.items} != {i.key for i in rented.items}
    assert "lease_registration" in {m.entry.kind for m in rented.materials}
    assert "lease_registration" not in {m.entry.kind for m in owned.materials}
    assert rented.days >= owned.days


def test_a_bundle_without_questions_lists_every_item(engine: Engine) -> None:
    guide = engine.guide("ipo-compliance-check")
    assert guide.questions == () and guide.complete
    assert len(guide.items) == guide.all_items


def test_an_unknown_bundle_is_not_found(engine: Engine) -> None:
    with pytest.raises(BundleNotFound):
        engine.guide("no-such-bundle")
