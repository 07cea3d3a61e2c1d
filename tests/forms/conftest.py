"""Fixtures of the forms tests: the shipped catalog and the two hand-built bundle forms."""

from __future__ import annotations

import pytest

from forms.catalog import Catalog, load_catalog
from forms.merge import MergedForm, merge_form
from tests.forms.builders import school_request, startup_request


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def startup_form(catalog: Catalog) -> MergedForm:
    return merge_form(catalog, startup_request())


@pytest.fixture(scope="session")
def school_form(catalog: Catalog) -> MergedForm:
    return merge_form(catalog, school_request())
