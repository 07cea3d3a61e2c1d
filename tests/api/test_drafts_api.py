"""Over real HTTP: an applicant's drafts (草稿) under /api/drafts, their own only, gone on submit."""

from __future__ import annotations

from tests.api.support import LiveServer, pdf, upload
from tests.api.walking import bundle_example

BUNDLE = "enterprise-startup"


def test_an_applicant_saves_reads_lists_and_discards_a_draft(server: LiveServer) -> None:
    with server.as_user("applicant1") as me:
        assert me.get(f"/api/drafts/{BUNDLE}").status_code == 404
        articles = upload(me, "articles_of_association", pdf("draft:articles"))["id"]
        body = {
            "data": {"company_name": "上海澄川", "registered_capital": "1OO"},
            "materials": {"articles_of_association": articles},
        }
        saved = me.put(f"/api/drafts/{BUNDLE}", json=body)
        assert saved.status_code == 200, saved.text
        draft = saved.json()
        assert draft["bundle"] == BUNDLE
        assert draft["data"] == body["data"] and draft["materials"] == body["materials"]
        assert draft["created_at"] and draft["updated_at"]
        assert me.get(f"/api/drafts/{BUNDLE}").json()["data"] == body["data"]
        assert [d["bundle"] for d in me.get("/api/drafts").json()] == [BUNDLE]
        discarded = me.delete(f"/api/drafts/{BUNDLE}")
        assert discarded.status_code == 200 and discarded.json()["data"] == body["data"]
        assert me.get(f"/api/drafts/{BUNDLE}").status_code == 404
        assert me.delete(f"/api/drafts/{BUNDLE}").status_code == 404
        assert me.get("/api/drafts").json() == []


def test_a_draft_is_its_owner_s_alone_and_applicants_only(server: LiveServer) -> None:
    with server.as_user("applicant1") as me, server.as_user("applicant2") as other:
        assert me.put(f"/api/drafts/{BUNDLE}", json={"data": {"company_name": "甲"}}).status_code == 200
        assert other.get(f"/api/drafts/{BUNDLE}").status_code == 404
        assert other.get("/api/drafts").json() == []
        assert other.delete(f"/api/drafts/{BUNDLE}").status_code == 404
        # Another applicant's upload cannot be put in one's own draft.
        theirs = upload(other, "articles_of_association", pdf("draft:theirs"))["id"]
        refused = me.put(
            f"/api/drafts/{BUNDLE}", json={"data": {}, "materials": {"articles_of_association": theirs}}
        )
        assert refused.status_code == 422
        assert me.get(f"/api/drafts/{BUNDLE}").json()["data"] == {"company_name": "甲"}
    for staff in ("clerk.market-regulation", "analyst", "admin"):
        with server.as_user(staff) as c:
            assert c.get("/api/drafts").status_code == 403
            assert c.put(f"/api/drafts/{BUNDLE}", json={"data": {}}).status_code == 403
    with server.client() as anonymous:
        assert anonymous.get("/api/drafts").status_code == 401


def test_a_draft_refuses_keys_the_form_does_not_have_and_bodies_too_large(server: LiveServer) -> None:
    with server.as_user("applicant2") as me:
        bad = me.put(f"/api/drafts/{BUNDLE}", json={"data": {"company_name": "乙", "role": "admin"}})
        assert bad.status_code == 422
        assert [p["where"] for p in bad.json()["detail"]] == ["role"]
        nested = me.put(f"/api/drafts/{BUNDLE}", json={"data": {"company_name": {"a": 1}}})
        assert nested.status_code == 422
        unknown = me.put("/api/drafts/no-such-bundle", json={"data": {}})
        assert unknown.status_code == 404
        big = {
            "data": {
                name: "字" * 9000
                for name in (
                    "company_name",
                    "address",
                    "business_scope",
                    "legal_rep_name",
                    "bank_name",
                    "legal_rep_phone",
                    "legal_rep_id",
                )
            }
        }
        assert me.put(f"/api/drafts/{BUNDLE}", json=big).status_code == 413


def test_submitting_the_application_discards_the_draft(server: LiveServer) -> None:
    with server.as_user("applicant2") as me:
        example = bundle_example(me, BUNDLE, 0)
        materials = {k: upload(me, k, pdf(f"draft-submit:{k}"))["id"] for k in example["materials"]}
        assert (
            me.put(
                f"/api/drafts/{BUNDLE}", json={"data": {"company_name": "乙"}, "materials": materials}
            ).status_code
            == 200
        )
        created = me.post(
            "/api/cases", json={"bundle": BUNDLE, "data": example["data"], "materials": materials}
        )
        assert created.status_code == 201, created.text
        assert me.get(f"/api/drafts/{BUNDLE}").status_code == 404
