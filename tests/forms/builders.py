"""Hand-built form requests for the two shipped bundles, and valid answers for them.

The bundles' own bundle.yaml files are written elsewhere; these requests model the same
items so the forms package is tested on its own.
"""

from __future__ import annotations

from typing import Any

from forms.spec import FormItem, FormRequest

# Published, independently valid identifiers: the GB 11643 example ID and a real credit code.
GB_EXAMPLE_ID = "11010519491231002X"
VALID_USCC = "91350100M000100Y43"
# IDs whose check characters were computed from the GB 11643 weights outside this code base.
CHILD_ID = "110105201805120039"
GUARDIAN_ID = "110105198503150019"


def startup_request() -> FormRequest:
    """企业开办: registration issues the licence and the credit code; the others need them."""
    registration = FormItem(
        key="business-registration",
        name_zh="设立登记",
        name_en="Business registration",
        department="market-regulation",
        fields=(
            "company_name",
            "company_type",
            "address",
            "address_division",
            "registered_capital",
            "business_scope",
            "legal_rep_name",
            "legal_rep_id",
            "legal_rep_phone",
        ),
        materials=("articles_of_association", "premises_proof", "legal_rep_id_card"),
        decision_fields=("uscc",),
        outputs=("business_licence",),
    )
    seal = FormItem(
        key="seal-engraving",
        name_zh="公章刻制",
        name_en="Seal engraving",
        department="public-security",
        fields=("company_name", "uscc", "legal_rep_name", "legal_rep_id", "seal_set"),
        materials=("business_licence", "legal_rep_id_card"),
    )
    tax = FormItem(
        key="tax-invoice",
        name_zh="涉税事项及发票申领",
        name_en="Tax matters and first invoices",
        department="tax",
        fields=(
            "company_name",
            "uscc",
            "legal_rep_name",
            "legal_rep_id",
            "legal_rep_phone",
            "invoice_needed",
        ),
        materials=("business_licence",),
    )
    social = FormItem(
        key="social-insurance",
        name_zh="社保登记",
        name_en="Social insurance registration",
        department="human-resources-social-security",
        fields=("company_name", "uscc", "has_employees", "employee_count"),
        materials=("business_licence",),
        decision_fields=("social_insurance_no",),
    )
    bank = FormItem(
        key="bank-account",
        name_zh="银行开户",
        name_en="Bank account",
        department="bank",
        fields=("company_name", "uscc", "legal_rep_name", "legal_rep_id", "legal_rep_phone", "bank_name"),
        materials=("business_licence", "legal_rep_id_card"),
        decision_fields=("bank_account_no",),
    )
    return FormRequest(
        items=(registration, seal, tax, social, bank),
        conditions={"employee_count": {"has_employees": True}},
        title_zh="企业开办一件事",
        title_en="Enterprise startup",
    )


def startup_data() -> dict[str, Any]:
    """A complete, valid enterprise-startup application."""
    return {
        "company_name": "北京一件事科技有限公司",
        "company_type": "limited",
        "address": "北京市朝阳区建国路88号",
        "address_division": "110105",
        "registered_capital": 100,
        "business_scope": "软件开发；信息技术咨询服务",
        "legal_rep_name": "王小明",
        "legal_rep_id": GB_EXAMPLE_ID,
        "legal_rep_phone": "13800138000",
        "seal_set": "basic",
        "invoice_needed": True,
        "has_employees": True,
        "employee_count": 5,
        "bank_name": "icbc",
    }


STARTUP_MATERIALS = ("articles_of_association", "premises_proof", "legal_rep_id_card")


def school_request() -> FormRequest:
    """教育入学: the household, the housing and (for non-local children) social insurance are checked."""
    household = FormItem(
        key="household-check",
        name_zh="户籍核验",
        name_en="Household check",
        department="public-security",
        fields=("child_name", "child_id", "guardian_name", "guardian_id", "household_location"),
        materials=("household_register", "residence_permit"),
        decision_fields=("household_verified",),
    )
    housing = FormItem(
        key="housing-check",
        name_zh="住房核验",
        name_en="Housing check",
        department="natural-resources",
        fields=("guardian_name", "guardian_id", "residence_address", "residence_division", "housing_type"),
        materials=("property_certificate", "lease_registration"),
        decision_fields=("housing_verified",),
    )
    insurance = FormItem(
        key="social-insurance-check",
        name_zh="社保缴费核验",
        name_en="Social insurance check",
        department="human-resources-social-security",
        fields=("guardian_name", "guardian_id", "household_location"),
        materials=("social_insurance_record",),
        decision_fields=("social_insurance_months",),
    )
    assignment = FormItem(
        key="school-assignment",
        name_zh="学位分配",
        name_en="School assignment",
        department="education",
        fields=(
            "child_name",
            "child_id",
            "guardian_name",
            "guardian_phone",
            "guardian_relation",
            "school_stage",
            "residence_division",
        ),
        materials=("birth_certificate",),
        decision_fields=("assigned_school",),
    )
    return FormRequest(
        items=(household, housing, insurance, assignment),
        conditions={
            "residence_permit": {"household_location": "non_local"},
            "social_insurance_record": {"household_location": ["non_local"]},
            "property_certificate": {"housing_type": "owned"},
            "lease_registration": {"housing_type": "rented"},
            "social_insurance_months": {"household_location": "non_local"},
        },
        promises={"social_insurance_record": 30},
        exemptions={"birth_certificate": ("出生医学证明由卫健部门共享", "Shared by the health department")},
    )


def school_data(**changes: Any) -> dict[str, Any]:
    """A complete, valid school-enrollment application (local household, owned home)."""
    data: dict[str, Any] = {
        "child_name": "李小雨",
        "child_id": CHILD_ID,
        "guardian_name": "李大山",
        "guardian_id": GUARDIAN_ID,
        "guardian_phone": "13912345678",
        "guardian_relation": "father",
        "household_location": "local",
        "residence_address": "北京市朝阳区幸福路1号院2号楼301",
        "residence_division": "110105",
        "housing_type": "owned",
        "school_stage": "primary",
    }
    data.update(changes)
    return data
