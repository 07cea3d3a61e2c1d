"""The shipped bundles and the catalogs agree: one key per department, per field, per material.

A department key means one real department everywhere (its lane, its items, the certificates it
issues); every field and material a bundle names is in the forms catalog; and no bundle asks
the applicant for a document that its own earlier steps issue.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from forms.catalog import load_catalog
from tests.bundles.shipped import NS, bundle_keys, departments, diagram, manifest


def _lanes(key: str) -> dict[str, set[str]]:
    """Lane name -> ids of the flow nodes in the lane."""
    lanes: dict[str, set[str]] = {}
    for lane in diagram(key).getroot().iter(f"{{{NS['bpmn']}}}lane"):
        lanes.setdefault(lane.get("name", ""), set()).update(
            ref.text or "" for ref in lane.findall("bpmn:flowNodeRef", NS)
        )
    return lanes


def _successors(key: str) -> dict[str, set[str]]:
    """Flow node id -> the ids it reaches by sequence flows (transitively)."""
    direct: dict[str, set[str]] = defaultdict(set)
    for flow in diagram(key).getroot().iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        direct[flow.get("sourceRef", "")].add(flow.get("targetRef", ""))
    reach: dict[str, set[str]] = {}
    for start in list(direct):
        seen: set[str] = set()
        todo = list(direct[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(direct.get(node, ()))
        reach[start] = seen
    return reach


def test_each_department_key_names_one_real_department() -> None:
    table = departments()
    names = [entry["zh"] for entry in table.values()]
    assert len(names) == len(set(names)), "two keys for the same department"
    for key, entry in table.items():
        assert entry["zh"] and entry["en"], key
        assert entry["kind"] in ("government", "enterprise"), key


@pytest.mark.parametrize("key", bundle_keys())
def test_lanes_and_items_use_the_department_keys(key: str) -> None:
    known = set(departments())
    lanes = _lanes(key)
    assert set(lanes) <= known, f"lanes not in departments.yaml: {set(lanes) - known}"
    for item in manifest(key).items:
        assert item.department in known, item.key
        assert item.task in lanes[item.department], f"{item.task} is not in the lane {item.department}"
    lane_ids = {
        lane.get("name"): lane.get("id") for lane in diagram(key).getroot().iter(f"{{{NS['bpmn']}}}lane")
    }
    for name, lane_id in lane_ids.items():
        assert lane_id == "Lane_" + str(name).replace("-", "_"), "a lane's id follows its department key"


def test_a_department_does_the_same_kind_of_work_in_every_bundle() -> None:
    """The same item key in two bundles is owned by the same department (e.g. seal-engraving: police)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for key in bundle_keys():
        for item in manifest(key).items:
            owners[item.key].add(item.department)
    assert {item: depts for item, depts in owners.items() if len(depts) > 1} == {}


def test_certificate_issuers_are_department_keys_that_issue_them() -> None:
    catalog = load_catalog()
    known = set(departments())
    for kind, material in catalog.materials.items():
        if material.certificate is not None:
            assert material.certificate.issuer in known, kind
    for key in bundle_keys():
        for item in manifest(key).items:
            for output in item.outputs:
                certificate = catalog.materials[output].certificate
                assert certificate is not None, (
                    f"{key}: {output} is an output but not an electronic certificate"
                )
                assert certificate.issuer == item.department, f"{key}: {output} issued by {item.department}"


@pytest.mark.parametrize("key", bundle_keys())
def test_every_field_and_material_is_in_the_catalog(key: str) -> None:
    catalog = load_catalog()
    m = manifest(key)
    for item in m.items:
        assert set(item.fields) <= set(catalog.elements), item.key
        assert set(item.decision_fields) <= set(catalog.elements), item.key
        assert set(item.materials) <= set(catalog.materials), item.key
        assert set(item.outputs) <= set(catalog.materials), item.key
    asked = set(m.fields) | set(m.materials)
    for subject, rule in m.conditions.items():
        assert subject in asked, f"condition on {subject}, which the bundle does not ask"
        assert set(rule) <= set(m.fields), f"condition of {subject} reads a field the form lacks"
    assert {e.material for e in m.exemptions} <= set(m.materials)
    assert {p.material for p in m.accept_with_promise} <= set(m.materials)
    for example in m.examples:
        assert set(example.data) <= set(catalog.elements)
        assert set(example.materials) <= set(m.materials)


@pytest.mark.parametrize("key", bundle_keys())
def test_no_bundle_asks_for_what_its_own_earlier_steps_issue(key: str) -> None:
    m = manifest(key)
    exempt = {e.material for e in m.exemptions}
    reach = _successors(key)
    issued_by = {output: item for item in m.items for output in item.outputs}
    for item in m.items:
        for material in item.materials:
            issuer = issued_by.get(material)
            if issuer is None:
                continue
            assert material in exempt, f"{item.key} asks the applicant for {material}, issued by {issuer.key}"
            assert item.task in reach.get(issuer.task, set()), f"{issuer.key} does not run before {item.key}"
            for example in m.examples:
                assert material not in example.materials, f"an example uploads {material}"


@pytest.mark.parametrize("key", bundle_keys())
def test_exemptions_say_why_in_both_languages(key: str) -> None:
    m = manifest(key)
    for exemption in m.exemptions:
        assert exemption.why.zh and exemption.why.en, exemption.material
    assert m.baseline.source.strip(), "the baseline names where its figures come from"
    for follow in m.follow_on:
        assert follow.why is not None and follow.why.zh and follow.why.en


@pytest.mark.parametrize("key", bundle_keys())
def test_each_diagram_has_one_executable_process_named_by_the_bundle_key(key: str) -> None:
    processes = diagram(key).getroot().findall("bpmn:process", NS)
    assert [p.get("id") for p in processes if p.get("isExecutable") == "true"] == [key]
