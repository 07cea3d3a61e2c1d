"""/api/divisions and /api/offices over real HTTP: the tree for everyone, edits for admins in scope.

Any signed-in account reads the tree (applicants choose their 办理地区); the staff read the
offices; admins add and rename divisions and open and describe offices inside their own
division's subtree (403 outside it). Unknown codes and ids answer 404, existing ones 409, and
bad input 422 with every problem.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.idempotency import fingerprint
from engine.storage.idempotency import IdempotencyStore, Reservation
from tests.api.support import LiveServer, regions_server

HUANGPU, XUHUI = "310101", "310104"
TOWNSHIP = "310101002"  # 南京东路街道 (not shipped: added by the district admin below)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own with the demo offices open and their accounts made."""
    with regions_server(tmp_path_factory.mktemp("regions")) as running:
        yield running


def test_everyone_signed_in_reads_the_tree_with_full_names(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        tree = applicant.get("/api/divisions")
        assert tree.status_code == 200, tree.text
        by_code = {d["code"]: d for d in tree.json()}
        assert by_code["310101"] == {
            "code": "310101",
            "name": {"zh": "黄浦区", "en": by_code["310101"]["name"]["en"]},
            "level": "county",
            "parent": "310000",
            "full_name": {"zh": "上海市黄浦区", "en": by_code["310101"]["full_name"]["en"]},
            "active": True,
        }
        assert by_code["310000"]["parent"] is None and by_code["310000"]["level"] == "province"
        assert by_code["330106"]["full_name"]["zh"] == "浙江省杭州市西湖区"
        assert by_code["330100"]["level"] == "city"

        districts = applicant.get("/api/divisions", params={"parent": "310000"}).json()
        assert len(districts) == 16 and {d["parent"] for d in districts} == {"310000"}
        assert len(applicant.get("/api/divisions", params={"parent": "330000"}).json()) == 11
        assert applicant.get("/api/divisions", params={"parent": "999999"}).status_code == 404
        assert applicant.get("/api/divisions", params={"parent": "abc"}).status_code == 422

        one = applicant.get("/api/divisions/310115").json()
        assert (one["name"]["zh"], one["full_name"]["zh"]) == ("浦东新区", "上海市浦东新区")
        assert applicant.get("/api/divisions/999999").status_code == 404
    with server.client() as anonymous:
        assert anonymous.get("/api/divisions").status_code == 401


def test_a_district_admin_adds_and_renames_divisions_inside_its_district_only(server: LiveServer) -> None:
    new = {"code": TOWNSHIP, "name": {"zh": "南京东路街道", "en": "Nanjing East Road"}, "level": "township",
           "parent": HUANGPU}  # fmt: skip
    with server.as_user("admin@310101") as admin:
        made = admin.post("/api/divisions", json=new, headers={"Idempotency-Key": "div-1"})
        assert made.status_code == 201, made.text
        assert made.json()["full_name"]["zh"] == "上海市黄浦区南京东路街道"
        again = admin.post("/api/divisions", json=new, headers={"Idempotency-Key": "div-1"})
        assert (again.status_code, again.json()) == (201, made.json())
        assert again.headers["Idempotent-Replayed"] == "true"
        assert admin.post("/api/divisions", json=new).status_code == 409

        elsewhere = admin.post("/api/divisions", json={**new, "code": "310104099", "parent": XUHUI})
        assert elsewhere.status_code == 403, elsewhere.text
        root = admin.post(
            "/api/divisions", json={"code": "320000", "name": {"zh": "江苏省"}, "level": "province"}
        )
        assert root.status_code == 403
        # Every problem at once: a level not below the parent's and a blank name.
        bad = admin.post(
            "/api/divisions",
            json={"code": "310101003", "name": {"zh": " "}, "level": "city", "parent": HUANGPU},
        )
        assert bad.status_code == 422, bad.text
        assert {p["where"] for p in bad.json()["detail"]} >= {"name_zh", "level"}

        renamed = admin.patch(f"/api/divisions/{HUANGPU}", json={"name": {"en": "Huangpu"}})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == {"zh": "黄浦区", "en": "Huangpu"}
        assert admin.patch(f"/api/divisions/{XUHUI}", json={"name": {"en": "X"}}).status_code == 403
        assert admin.patch("/api/divisions/999999", json={"name": {"en": "X"}}).status_code == 404
    with server.as_user("applicant1") as applicant:
        assert applicant.get(f"/api/divisions/{TOWNSHIP}").json()["parent"] == HUANGPU
        assert applicant.get(f"/api/divisions/{HUANGPU}").json()["name"]["en"] == "Huangpu"
        assert applicant.post("/api/divisions", json={**new, "code": "310101004"}).status_code == 403
    with server.as_user("analyst") as analyst:
        assert analyst.patch(f"/api/divisions/{HUANGPU}", json={"name": {"en": "H"}}).status_code == 403
    with server.as_user("admin") as platform:
        added = platform.post(
            "/api/divisions",
            json={"code": "320000", "name": {"zh": "江苏省", "en": "Jiangsu"}, "level": "province"},
        )
        assert added.status_code == 201, added.text


def test_offices_are_read_by_staff_and_opened_and_described_by_admins_in_scope(server: LiveServer) -> None:
    with server.as_user("clerk.market-regulation@310101") as clerk:
        listed = clerk.get("/api/offices", params={"division": HUANGPU, "department": "market-regulation"})
        assert listed.status_code == 200, listed.text
        [office] = listed.json()
        assert (office["department"], office["division"]) == ("market-regulation", HUANGPU)
        assert office["division_name"]["zh"] == "上海市黄浦区"
        assert office["name"]["zh"].startswith("上海市黄浦区") and office["department_name"]["zh"]
        default = clerk.get("/api/offices", params={"division": "310000", "department": "tax"}).json()
        assert [(o["id"], o["division"]) for o in default] == [(None, "310000")]  # implicit
        assert clerk.post("/api/offices", json={"department": "tax", "division": HUANGPU}).status_code == 403
    with server.as_user("applicant1") as applicant:
        assert applicant.get("/api/offices").status_code == 403

    with server.as_user("admin@310101") as admin:
        huangpu_tax = office_id(admin, "tax", HUANGPU)
        xuhui_tax = office_id(admin, "tax", XUHUI)
        body = {"department": "market-regulation", "division": "310101005", "phone": "021-1"}
        assert admin.post("/api/offices", json=body).status_code == 404  # no such division yet
        added = admin.post(
            "/api/divisions",
            json={"code": "310101005", "name": {"zh": "外滩街道"}, "level": "township", "parent": HUANGPU},
        )
        assert added.status_code == 201, added.text
        opened = admin.post("/api/offices", json=body, headers={"Idempotency-Key": "office-1"})
        assert opened.status_code == 201, opened.text
        assert opened.json()["name"]["zh"].startswith("上海市黄浦区外滩街道")
        assert opened.json()["phone"] == "021-1"
        assert admin.post("/api/offices", json=body).status_code == 409
        assert admin.post("/api/offices", json={**body, "division": "310104"}).status_code == 403
        unknown = admin.post("/api/offices", json={**body, "department": "nowhere"})
        assert unknown.status_code == 422, unknown.text

        described = admin.patch(
            f"/api/offices/{huangpu_tax}",
            json={"name": {"zh": "黄浦区税务局"}, "hours": "9:00-17:00"},
        )
        assert described.status_code == 200, described.text
        assert (described.json()["name"]["zh"], described.json()["hours"]) == ("黄浦区税务局", "9:00-17:00")
        assert admin.patch(f"/api/offices/{xuhui_tax}", json={"phone": "1"}).status_code == 403
        assert admin.patch("/api/offices/999999999", json={"phone": "1"}).status_code == 404
    with server.as_user("analyst") as analyst:
        [tax] = analyst.get("/api/offices", params={"division": HUANGPU, "department": "tax"}).json()
        assert tax["name"]["zh"] == "黄浦区税务局"
        assert analyst.patch(f"/api/offices/{huangpu_tax}", json={"phone": "1"}).status_code == 403


def office_id(client: httpx.Client, department: str, division: str) -> int:
    """The id of a demo office (read over REST)."""
    [office] = client.get("/api/offices", params={"division": division, "department": department}).json()
    return int(office["id"])


def test_a_division_is_withdrawn_and_brought_back_by_an_admin_in_scope(server: LiveServer) -> None:
    with server.as_user("admin@330100") as city:
        new = {"code": "330102001", "name": {"zh": "清波街道"}, "level": "township", "parent": "330102"}
        assert city.post("/api/divisions", json=new).status_code == 201
        both = city.patch("/api/divisions/330102001", json={"active": False, "name": {"en": "Qingbo"}})
        assert both.status_code == 422, both.text  # withdraw or rename, not both
        # Not while a division in force is below it; never its own division.
        assert city.patch("/api/divisions/330102", json={"active": False}).status_code == 409
        assert city.patch("/api/divisions/330100", json={"active": False}).status_code == 403

        gone = city.patch("/api/divisions/330102001", json={"active": False})
        assert gone.status_code == 200, gone.text
        assert (gone.json()["active"], gone.json()["name"]["zh"]) == (False, "清波街道")
        assert city.get("/api/divisions/330102001").status_code == 404
        assert "330102001" not in {
            d["code"] for d in city.get("/api/divisions", params={"parent": "330102"}).json()
        }
        withdrawn = city.get("/api/divisions", params={"withdrawn": True}).json()
        assert [(d["code"], d["active"]) for d in withdrawn] == [("330102001", False)]
        # Nothing is made in a withdrawn division.
        office = {"department": "tax", "division": "330102001"}
        assert city.post("/api/offices", json=office).status_code == 404
        clerk = {"username": "clerk.qb", "password": "a-long-passphrase-1", "role": "clerk",
                 "departments": ["tax"], "division": "330102001"}  # fmt: skip
        assert city.post("/api/accounts", json=clerk).status_code == 422

        back = city.patch("/api/divisions/330102001", json={"active": True, "name": {"en": "Qingbo"}})
        assert back.status_code == 200, back.text
        assert back.json()["active"] and back.json()["full_name"]["zh"] == "浙江省杭州市上城区清波街道"
        assert city.post("/api/accounts", json=clerk).status_code == 201
    with server.as_user("admin@310101") as district:
        assert district.patch("/api/divisions/330102001", json={"active": False}).status_code == 403
    with server.as_user("admin") as platform:
        assert platform.patch("/api/divisions/310000", json={"active": False}).status_code == 409  # default


def test_a_key_whose_division_or_office_was_made_before_the_answer_was_stored_answers_with_it(
    server: LiveServer,
) -> None:
    """The work committed (and recorded its outcome) but the answer never got stored: a retry
    rebuilds the answer from the outcome instead of making it again (409)."""
    regions = server.engine.regions
    store = IdempotencyStore(server.engine.db)
    new = {
        "code": "310101006",
        "name": {"zh": "半淞园路街道", "en": ""},
        "level": "township",
        "parent": HUANGPU,
    }
    reserved = store.reserve("admin@310101", "lost-1", fingerprint("POST", "/api/divisions", new))
    assert isinstance(reserved, Reservation)
    regions.add_division(HUANGPU, "310101006", "半淞园路街道", "", "township", HUANGPU, reservation=reserved)
    office = {"department": "tax", "division": "310101006", "name": None, "phone": "", "address": "",
              "hours": ""}  # fmt: skip
    opened = store.reserve("admin@310101", "lost-2", fingerprint("POST", "/api/offices", office))
    assert isinstance(opened, Reservation)
    made = regions.add_office(HUANGPU, "tax", "310101006", reservation=opened)

    with server.as_user("admin@310101") as admin:
        again = admin.post("/api/divisions", json=new, headers={"Idempotency-Key": "lost-1"})
        assert again.status_code == 201, again.text
        assert again.json()["full_name"]["zh"] == "上海市黄浦区半淞园路街道"
        reopened = admin.post("/api/offices", json=office, headers={"Idempotency-Key": "lost-2"})
        assert reopened.status_code == 201, reopened.text
        assert reopened.json()["id"] == made.id
