"""Deployed bundle versions: deploy (immutable, N+1 on change), look up, describe; regional variants.

A deployment is a spec: its files are stored once; its parsed definition and merged form
are cached in memory by digest, so a case action never parses a diagram.

Four eyes (``engine.bpmn.review``): a version may be deployed as a *draft*, which new cases
never start on; every lookup of "the newest version" here reads published rows only. A draft
is submitted, then published (or returned) by someone other than its author; publishing a
base re-applies the divisions' variants onto it, as a direct deployment does.

May import: ``engine.bpmn`` (checks.facts, definitions, manifest, review, validation, variants),
``engine.regions``, ``engine.storage``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

import io
import logging
import threading
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.bpmn.checks.facts import problem
from engine.bpmn.definitions import (
    MANIFEST_NAME,
    BundleDefinition,
    DefinitionCache,
    digest_files,
    read_bundle_dir,
)
from engine.bpmn.manifest import MAX_VERSION, Manifest, form_request
from engine.bpmn.review import ReviewAction, Reviewed, ReviewState, VersionStatus, clean_note, next_status
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.bpmn.variants import (
    OVERLAY_NAME,
    VARIANTS_DIR,
    VariantOverlay,
    apply_variant,
    overlay_text,
    parse_variant,
    variant_problems,
)
from engine.errors import BundleNotFound, Conflict, DefinitionError, NotAllowed, Problem, TooLarge
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.models import Deployment, table_of
from engine.storage.prepared import Prepared
from engine.storage.settings import Settings
from forms.catalog import Catalog
from forms.merge import MergedForm, merge_form

log = logging.getLogger(__name__)

ZIP_MAX_FILES = 64
ZIP_MAX_RATIO = 50
PUBLISHED = VersionStatus.PUBLISHED.value
# Every application asks which version it gets (the newest published base, then its
# division's variant on that base): built once and run on the driver (``Prepared``).
_DEPLOYMENTS = table_of(Deployment)
_NEWEST_BASE = Prepared(
    select(_DEPLOYMENTS.c.id)
    .where(
        _DEPLOYMENTS.c.key == bindparam("key"),
        _DEPLOYMENTS.c.division.is_(None),
        _DEPLOYMENTS.c.status == PUBLISHED,
    )
    .order_by(_DEPLOYMENTS.c.version.desc())
    .limit(1)
)
_VARIANTS_IN = Prepared(
    select(_DEPLOYMENTS.c.id, _DEPLOYMENTS.c.division)
    .where(
        _DEPLOYMENTS.c.key == bindparam("key"),
        _DEPLOYMENTS.c.base_id == bindparam("base"),
        _DEPLOYMENTS.c.division.in_(bindparam("chain", expanding=True)),
        _DEPLOYMENTS.c.status == PUBLISHED,
    )
    .order_by(_DEPLOYMENTS.c.version.desc())
)
# A draft's content matches these rows (an unchanged upload keeps their version); a published
# deployment's only published ones (publishing never hides behind a pending draft).
_SAME_FOR_DRAFT = (VersionStatus.DRAFT.value, VersionStatus.IN_REVIEW.value, PUBLISHED)


@dataclass(frozen=True)
class SkippedVariant:
    """A division's variant that no longer passes on a new base version: not re-applied, and why."""

    division: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Deployed:
    """The result of a deployment: which version, and whether it is new.

    ``division`` is set for a variant. A new base version re-applies each division's newest
    variant onto it: ``variants`` are those deployments, ``skipped`` the overlays that no
    longer pass (the division keeps no variant on the new base until a fixed one is deployed).
    ``status`` is where the version stands in review (``published`` unless deployed as a draft).
    """

    key: str
    version: int
    created: bool
    division: str | None = None
    variants: tuple[Deployed, ...] = ()
    skipped: tuple[SkippedVariant, ...] = ()
    status: str = PUBLISHED


def load_departments(processes_dir: Path) -> dict[str, dict[str, str]]:
    """Department key -> {zh, en, kind} from ``processes/departments.yaml``."""
    path = processes_dir / "departments.yaml"
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in raw.items()}


def _zip_refusal(message: str, message_en: str, name: str = "") -> DefinitionError:
    """A zip that cannot be a bundle: 422 with the reason, naming the entry when there is one."""
    return DefinitionError(
        f"{message} ({message_en})", [Problem(message, file=name, rule="zip", message_en=message_en)]
    )


def _unsafe_entry(filename: str) -> bool:
    """Whether an entry's path leaves the folder it unpacks into (absolute, a drive, ``..``).

    Nothing is unpacked to disk, but a zip made to escape its folder is not an honest bundle.
    Backslashes count as separators: some Windows tools write them.
    """
    path = filename.replace("\\", "/")
    return path.startswith("/") or (len(path) > 1 and path[1] == ":") or ".." in path.split("/")


def _is_link(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> bytes:
    """One entry's bytes, every way a crafted entry fails to read turned into a refusal."""
    name = info.filename
    try:
        with archive.open(info) as handle:
            return handle.read(max_bytes + 1)
    except zipfile.BadZipFile as exc:  # a bad CRC, a size that lies, overlapping entries
        raise _zip_refusal(f"zip 内文件已损坏: {exc}", f"damaged entry: {exc}", name) from exc
    except (zlib.error, EOFError) as exc:
        raise _zip_refusal("zip 内文件已损坏或被截断", f"damaged or truncated entry: {exc}", name) from exc
    except NotImplementedError as exc:
        raise _zip_refusal("不支持的压缩方式", f"unsupported compression: {exc}", name) from exc
    except RuntimeError as exc:  # zipfile's "encrypted, password required"
        raise _zip_refusal("zip 内文件已加密", f"encrypted entry: {exc}", name) from exc


def unzip_bundle(data: bytes, max_bytes: int) -> dict[str, bytes]:
    """The bundle files inside an uploaded zip, refusing bombs, links and path tricks.

    Every way a crafted zip fails (damaged, truncated, encrypted, an unknown compression,
    paths outside the folder, links, two files of one name, more bytes than declared) is a
    ``DefinitionError`` with the reason (422), never an exception of ``zipfile``.
    """
    if len(data) > max_bytes:
        raise TooLarge(f"压缩包过大 (zip over {max_bytes} bytes)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise DefinitionError(
            "不是有效的 zip 文件 (not a zip file)", [Problem("不是有效的 zip 文件", rule="zip")]
        ) from exc
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > ZIP_MAX_FILES:
        raise DefinitionError("zip 内文件过多", [Problem(f"zip 内文件超过 {ZIP_MAX_FILES} 个", rule="zip")])
    total = sum(i.file_size for i in infos)
    if total > max_bytes or total > ZIP_MAX_RATIO * max(len(data), 1) + max_bytes // 10:
        raise TooLarge("解压后过大 (uncompressed size over the limit)")
    for info in archive.infolist():
        if _unsafe_entry(info.filename):
            raise _zip_refusal("zip 内路径越出文件夹", "entry path leaves the folder", info.filename)
        if _is_link(info):
            raise _zip_refusal("zip 内不能有链接", "links are not allowed", info.filename)
    files: dict[str, bytes] = {}
    for info in infos:
        name = PurePosixPath(info.filename.replace("\\", "/")).name
        if name.startswith(".") or "__MACOSX" in info.filename:
            continue
        if not name.endswith((".yaml", ".yml", ".bpmn", ".dmn")):
            continue
        if name in files:
            raise DefinitionError("zip 内文件重名", [Problem(f"文件名重复: {name}", file=name, rule="zip")])
        content = _read_entry(archive, info, max_bytes)
        if len(content) > max_bytes:
            raise TooLarge(f"{name} 过大")
        files[name] = content
    return files


class Deployments:
    """Deploys bundles and their regional variants, and serves definitions and merged forms from caches.

    A variant is a row with ``division`` set: the base's files with the overlay merged in,
    sharing the key's one version sequence (``(key, version)`` still names one deployment).
    """

    def __init__(self, db: Database, settings: Settings, catalog: Catalog, *, regions: Regions) -> None:
        self.db = db
        self.settings = settings
        self.catalog = catalog
        # The division tree a variant's division must be in, and an analyst's scope is checked against.
        self.regions = regions
        self.departments = load_departments(settings.processes_dir)
        self._definitions = DefinitionCache()
        self._forms: dict[str, MergedForm] = {}
        self._rows: dict[int, Deployment] = {}
        self._lock = threading.Lock()

    # -- deploying -------------------------------------------------------------------
    def deploy_files(
        self, files: Mapping[str, bytes], by: str = "system", *, scope: str | None = None, draft: bool = False
    ) -> Deployed:
        """Validate and store a bundle or a variant; unchanged content keeps its version, changes make N+1.

        ``scope`` is the deploying analyst's division (None: the whole platform): a scoped
        analyst deploys only variants for divisions inside its subtree. A new published base
        version re-applies each division's newest variant onto it (see ``Deployed``). With
        ``draft`` the version waits for review (``engine.bpmn.review``) and goes live, with
        its variants re-applied, only when someone else publishes it.
        """
        status = VersionStatus.DRAFT.value if draft else PUBLISHED
        overlay = overlay_text(files)
        if overlay is not None:
            return self._deploy_variant(files, overlay, by, scope, status)
        if OVERLAY_NAME in files:
            raise DefinitionError(
                f"{OVERLAY_NAME}: 这是变体部署生成的文件 (a file of a deployed variant)",
                [
                    problem(
                        OVERLAY_NAME,
                        "",
                        "variant-file",
                        f"{OVERLAY_NAME} 只出现在已部署的变体中：请部署变体文件夹",
                        f"{OVERLAY_NAME} belongs to a deployed variant: deploy the variant folder "
                        "(a bundle.yaml with variant_of) instead",
                    )
                ],
            )
        if scope is not None:
            raise NotAllowed(
                "分级授权：本级分析员只能部署本辖区的变体，不能部署基础事项包 "
                "(a scoped analyst deploys variants inside its division only, never a base bundle)"
            )
        deployed = self._deploy_base(files, by, status)
        if not deployed.created or draft:
            return deployed
        variants, skipped = self._reapply_variants(deployed.key, by)
        return replace(deployed, variants=variants, skipped=skipped)

    def _deploy_base(self, files: Mapping[str, bytes], by: str, status: str) -> Deployed:
        """A base bundle: validated in full, stored as N+1 unless its content is already deployed."""
        digest = digest_files(files)
        matching = _SAME_FOR_DRAFT if status != PUBLISHED else (PUBLISHED,)
        with self.db.read() as session:
            known = session.scalars(
                select(Deployment).where(Deployment.digest == digest, Deployment.status.in_(matching))
            ).first()
            if known is not None:  # deployed before (every start deploys the shipped bundles)
                return Deployed(known.key, known.version, created=False, status=known.status)
        report = validate_bundle_files(files, source="upload")
        if report.problems:
            raise DefinitionError(f"{len(report.problems)} problem(s) in the bundle", list(report.problems))
        definition = self._definitions.get(
            digest, {name: data.decode("utf-8") for name, data in files.items()}
        )
        self._check_fixed_divisions(definition.manifest)
        key = definition.key
        for _attempt in range(3):
            try:
                with self.db.write() as session:
                    same = session.scalars(
                        select(Deployment).where(
                            Deployment.key == key,
                            Deployment.digest == definition.digest,
                            Deployment.status.in_(matching),
                        )
                    ).first()
                    if same is not None:
                        return Deployed(key, same.version, created=False, status=same.status)
                    newest = session.scalar(select(func.max(Deployment.version)).where(Deployment.key == key))
                    version = definition.manifest.version if newest is None else newest + 1
                    if version > MAX_VERSION:
                        raise DefinitionError(
                            f"{key}: 版本号已用尽 (no version left after {newest})",
                            [Problem("版本号已用尽", file="bundle.yaml", element="version", rule="version")],
                        )
                    session.add(
                        Deployment(
                            key=key,
                            version=version,
                            digest=definition.digest,
                            manifest=definition.manifest.model_dump(mode="json"),
                            files=dict(definition.files),
                            created_by=by,
                            status=status,
                        )
                    )
                _log_deployed(key, version, by, status)
                return Deployed(key, version, created=True, status=status)
            except IntegrityError:
                continue  # another process deployed the same key at the same moment
        raise DefinitionError(f"{key}: concurrent deployments, try again", [Problem("并发部署冲突，请重试")])

    def _check_fixed_divisions(self, manifest: Manifest) -> None:
        """Items pinned to a division (``division: {fixed: ...}``) name one the division tree knows.

        Checked at deployment, not by ``validate``: admins add divisions at run time.
        """
        tree = self.regions.tree()
        problems = [
            problem(
                MANIFEST_NAME,
                f"items[{item.key}].division.fixed",
                "division-unknown",
                f"行政区划代码 {item.division.fixed} 不在区划表中",
                f"division {item.division.fixed} is not in the division table",
            )
            for item in manifest.items
            if item.division is not None
            and item.division.fixed is not None
            and not tree.known(item.division.fixed)
        ]
        if problems:
            raise DefinitionError(f"{len(problems)} unknown division(s) in the bundle", problems)

    # -- variants ----------------------------------------------------------------------
    def _deploy_variant(
        self, files: Mapping[str, bytes], overlay_bytes: bytes, by: str, scope: str | None, status: str
    ) -> Deployed:
        """A variant overlay: checked against the key's newest published base and deployed merged onto it."""
        overlay = parse_variant(overlay_bytes)
        if not self.regions.in_scope(scope, overlay.division):
            raise NotAllowed(
                f"分级授权：行政区划 {overlay.division} 不在本辖区内 "
                f"(division {overlay.division} is outside the analyst's division)"
            )
        with self.db.read() as session:
            base = self._newest_base_id(session, overlay.variant_of)
        if base is None:
            raise DefinitionError(
                f"{overlay.variant_of}: 基础事项包尚未部署 (the base bundle is not deployed)",
                [
                    problem(
                        MANIFEST_NAME,
                        "variant_of",
                        "variant-base",
                        f"基础事项包 {overlay.variant_of!r} 尚未部署，请先部署它",
                        f"the base bundle {overlay.variant_of!r} is not deployed: deploy it first",
                    )
                ],
            )
        with self.db.read() as session:
            base_row = self.row(session, base)
        return self._deploy_on_base(base_row, overlay, files, by, status)

    def _deploy_on_base(
        self,
        base_row: Deployment,
        overlay: VariantOverlay,
        variant_files: Mapping[str, bytes],
        by: str,
        status: str = PUBLISHED,
    ) -> Deployed:
        """The overlay merged onto one base version, validated in full and stored (N+1 on change)."""
        base_manifest = self.definition(base_row).manifest
        base_files = {name: str(text).encode("utf-8") for name, text in base_row.files.items()}
        problems = variant_problems(
            base_manifest, overlay, base_files, variant_files, known_division=self.regions.tree().known
        )
        if problems:
            raise DefinitionError(f"{len(problems)} problem(s) in the variant", problems)
        _manifest, merged = apply_variant(base_manifest, overlay, base_files, variant_files)
        digest = digest_files(merged)
        matching = _SAME_FOR_DRAFT if status != PUBLISHED else (PUBLISHED,)
        with self.db.read() as session:
            known = session.scalars(
                select(Deployment).where(Deployment.digest == digest, Deployment.status.in_(matching))
            ).first()
            if known is not None:  # this overlay on this base is deployed (every start deploys it)
                return Deployed(
                    known.key, known.version, created=False, division=known.division, status=known.status
                )
        report = validate_bundle_files(merged, source="upload")
        if report.problems:
            raise DefinitionError(
                f"{len(report.problems)} problem(s) in the merged variant", list(report.problems)
            )
        definition = self._definitions.get(
            digest, {name: data.decode("utf-8") for name, data in merged.items()}
        )
        self._check_fixed_divisions(definition.manifest)
        key = definition.key
        for _attempt in range(3):
            try:
                with self.db.write() as session:
                    same = session.scalars(
                        select(Deployment).where(
                            Deployment.key == key,
                            Deployment.digest == digest,
                            Deployment.status.in_(matching),
                        )
                    ).first()
                    if same is not None:
                        return Deployed(
                            key, same.version, created=False, division=same.division, status=same.status
                        )
                    newest = session.scalar(select(func.max(Deployment.version)).where(Deployment.key == key))
                    version = (newest or 0) + 1
                    if version > MAX_VERSION:
                        raise DefinitionError(
                            f"{key}: 版本号已用尽 (no version left after {newest})",
                            [Problem("版本号已用尽", file=MANIFEST_NAME, element="version", rule="version")],
                        )
                    session.add(
                        Deployment(
                            key=key,
                            version=version,
                            digest=digest,
                            manifest=definition.manifest.model_dump(mode="json"),
                            files=dict(definition.files),
                            created_by=by,
                            division=overlay.division,
                            base_id=base_row.id,
                            status=status,
                        )
                    )
                _log_deployed(f"{key}@{overlay.division}", version, by, status)
                return Deployed(key, version, created=True, division=overlay.division, status=status)
            except IntegrityError:
                continue  # another process deployed the same key at the same moment
        raise DefinitionError(f"{key}: concurrent deployments, try again", [Problem("并发部署冲突，请重试")])

    def _reapply_variants(self, key: str, by: str) -> tuple[tuple[Deployed, ...], tuple[SkippedVariant, ...]]:
        """Each division's newest published variant merged onto the key's new published base.

        A variant that no longer passes is skipped (and logged).
        """
        with self.db.read() as session:
            base_id = self._newest_base_id(session, key)
            newest = (
                select(Deployment.division, func.max(Deployment.version).label("v"))
                .where(
                    Deployment.key == key, Deployment.division.is_not(None), Deployment.status == PUBLISHED
                )
                .group_by(Deployment.division)
                .subquery()
            )
            ids = session.scalars(
                select(Deployment.id)
                .join(
                    newest,
                    (Deployment.division == newest.c.division) & (Deployment.version == newest.c.v),
                )
                .where(Deployment.key == key)
                .order_by(Deployment.division)
            ).all()
            if base_id is None or not ids:
                return (), ()
            base_row = self.row(session, base_id)
            rows = [self.row(session, i) for i in ids]
            old_bases = {r.base_id: self.row(session, r.base_id) for r in rows if r.base_id is not None}
        deployed: list[Deployed] = []
        skipped: list[SkippedVariant] = []
        for variant in rows:
            old_base = old_bases.get(variant.base_id) if variant.base_id is not None else None
            variant_files = _variant_files_of(variant, old_base)
            try:
                overlay = parse_variant(variant_files[MANIFEST_NAME])
                deployed.append(self._deploy_on_base(base_row, overlay, variant_files, by))
            except DefinitionError as exc:
                division = variant.division or ""
                log.warning(
                    "variant %s@%s no longer passes on %s v%s: not re-applied: %s",
                    key,
                    division,
                    key,
                    base_row.version,
                    "; ".join(p.message_en or p.message for p in exc.problems),
                )
                skipped.append(SkippedVariant(division, tuple(exc.problems)))
        return tuple(deployed), tuple(skipped)

    def deploy_dir(self, path: Path, by: str = "system") -> Deployed:
        """Deploy a bundle folder (published at once)."""
        return self.deploy_files(read_bundle_dir(path), by)

    def deploy_zip(self, data: bytes, by: str, *, scope: str | None = None, draft: bool = False) -> Deployed:
        """Deploy an uploaded zip of a bundle or variant folder (``scope``, ``draft``: see deploy_files)."""
        return self.deploy_files(
            unzip_bundle(data, self.settings.max_bundle_bytes), by, scope=scope, draft=draft
        )

    def deploy_shipped(self) -> list[Deployed]:
        """Deploy every bundle folder of ``processes/``, then their variants (new digests only)."""
        root = self.settings.processes_dir
        bundles = [c for c in sorted(root.iterdir()) if c.is_dir() and (c / MANIFEST_NAME).exists()]
        deployed = [self.deploy_dir(child) for child in bundles]
        for child in bundles:
            variants = child / VARIANTS_DIR
            if variants.is_dir():
                deployed.extend(
                    self.deploy_dir(v) for v in sorted(variants.iterdir()) if (v / MANIFEST_NAME).is_file()
                )
        return deployed

    # -- review (four eyes) --------------------------------------------------------------
    def review(
        self,
        key: str,
        version: int,
        action: ReviewAction,
        by: str,
        *,
        now: datetime,
        is_admin: bool = False,
        scope: str | None = None,
        note: str | None = None,
    ) -> Reviewed:
        """Submit, publish, return (with a note) or withdraw a version, by ``engine.bpmn.review``'s rules.

        ``scope`` is the acting analyst's division, as for deploying: a base version is
        reviewed by an analyst of the whole platform, a variant by one whose division holds
        it. Publishing a base re-applies the divisions' published variants onto it.
        """
        text = clean_note(note, required=action is ReviewAction.RETURN)
        with self.db.write() as session:
            row = session.scalars(
                select(Deployment)
                .where(Deployment.key == key, Deployment.version == version)
                .with_for_update()
            ).first()
            if row is None:
                raise BundleNotFound(f"没有这个版本 (no version {version} of {key!r})")
            self._check_review_scope(row.division, scope, f"{key} v{version}")
            state = ReviewState(key, version, VersionStatus(row.status), row.created_by, row.submitted_by)
            to = next_status(state, action, by, is_admin=is_admin)
            if action is ReviewAction.PUBLISH:
                self._check_publishable(session, row)
            row.status = to.value
            if action is ReviewAction.SUBMIT:
                row.submitted_by, row.reviewed_by, row.reviewed_at, row.review_note = by, None, None, None
            elif action is ReviewAction.WITHDRAW:
                row.review_note = text or row.review_note
            else:
                row.reviewed_by, row.reviewed_at, row.review_note = by, now, text
            reviewed = Reviewed(
                key=key,
                version=version,
                status=to,
                division=row.division,
                author=row.created_by,
                submitted_by=row.submitted_by,
                reviewed_by=row.reviewed_by,
                reviewed_at=row.reviewed_at,
                review_note=row.review_note,
            )
        log.info(
            "bundle %s v%s%s: %s by %s (author %s)%s",
            key,
            version,
            f"@{reviewed.division}" if reviewed.division else "",
            action.value,
            by,
            reviewed.author,
            f": {text}" if text else "",
        )
        if action is ReviewAction.PUBLISH and reviewed.division is None:
            variants, _skipped = self._reapply_variants(key, by)
            reviewed = replace(reviewed, variants=tuple(v.version for v in variants if v.created))
        return reviewed

    def _check_review_scope(self, division: str | None, scope: str | None, label: str) -> None:
        """A scoped analyst reviews variants of its subtree only, never a base version."""
        if scope is None:
            return
        if division is None or not self.regions.in_scope(scope, division):
            raise NotAllowed(
                f"分级授权：本级分析员不能审核 {label} "
                "(a scoped analyst reviews its own division's variants only)"
            )

    def _check_publishable(self, session: Session, row: Deployment) -> None:
        """A version goes live only where it would be the one in force (never behind a newer one)."""
        newest_base = self._newest_base_id(session, row.key)
        if row.division is None:
            newer = session.scalar(
                select(Deployment.version).where(
                    Deployment.key == row.key,
                    Deployment.division.is_(None),
                    Deployment.status == PUBLISHED,
                    Deployment.version > row.version,
                )
            )
            if newer is not None:
                raise Conflict(
                    f"{row.key} 已发布更新的 v{newer}：v{row.version} 不能再发布 "
                    f"(v{newer} of {row.key} is already published: v{row.version} cannot go live)"
                )
        elif row.base_id != newest_base:
            raise Conflict(
                f"{row.key} v{row.version} 基于的基础版本已不是现行版本：请重新部署该地区版本 "
                f"(the base of {row.key} v{row.version} is no longer the published one: "
                "deploy the variant again)"
            )

    def review_state(self, session: Session, key: str, version: int) -> str:
        """A version's review status as it stands now (never from the row cache)."""
        found = session.scalar(
            select(Deployment.status).where(Deployment.key == key, Deployment.version == version)
        )
        if found is None:
            raise BundleNotFound(f"没有这个版本 (no version {version} of {key!r})")
        return str(found)

    # -- looking up ------------------------------------------------------------------
    def row(self, session: Session, deployment_id: int) -> Deployment:
        """A deployment row (its files and manifest are immutable, so cached by id).

        The review columns (``status`` and who reviewed) change: never read them from here,
        query them (``review_state``, the published filters below).
        """
        cached = self._rows.get(deployment_id)
        if cached is not None:
            return cached
        row = session.get(Deployment, deployment_id)
        if row is None:
            raise BundleNotFound(f"deployment {deployment_id} not found")
        session.expunge(row)
        with self._lock:
            self._rows[deployment_id] = row
        return row

    def latest(self, session: Session, key: str, version: int | None = None) -> Deployment:
        """The newest published base version of a key, or the given version (base or variant, any status)."""
        if version is None:
            deployment_id = self._newest_base_id(session, key)
        else:
            deployment_id = session.scalar(
                select(Deployment.id).where(Deployment.key == key, Deployment.version == version)
            )
        if deployment_id is None:
            raise BundleNotFound(
                f"没有这个事项包 (no bundle {key!r}" + (f" version {version})" if version else ")")
            )
        return self.row(session, deployment_id)

    def _newest_base_id(self, session: Session, key: str) -> int | None:
        """The newest published base version's id (variants go onto it)."""
        found: int | None = _NEWEST_BASE.scalar(session, {"key": key})
        return found

    def for_division(
        self, session: Session, key: str, chain: Sequence[str], base: Deployment | None = None
    ) -> Deployment:
        """The version an applicant of a division gets: the variant of the nearest division in ``chain``.

        ``chain`` is the applicant's division then its ancestors (``Regions.chain``). Only
        variants on the key's newest base count: a variant left on an older base (its overlay no
        longer passed) gives way to the base. None found: the newest base. ``base`` is the
        newest base when the caller has just read it (``latest``), so it is not read twice.
        """
        base = base or self.latest(session, key)
        if not chain:
            return base
        found = _VARIANTS_IN.rows(session, {"key": key, "base": base.id, "chain": list(chain)})
        newest: dict[str, int] = {}
        for deployment_id, division in found:
            newest.setdefault(str(division), deployment_id)
        for code in chain:
            if code in newest:
                return self.row(session, newest[code])
        return base

    def variants(self, session: Session, key: str) -> list[Deployment]:
        """The variants in force: each division's newest variant on the key's newest base, by division."""
        base_id = self._newest_base_id(session, key)
        if base_id is None:
            return []
        found = session.execute(
            select(Deployment.id, Deployment.division)
            .where(
                Deployment.key == key,
                Deployment.base_id == base_id,
                Deployment.division.is_not(None),
                Deployment.status == PUBLISHED,
            )
            .order_by(Deployment.division, Deployment.version.desc())
        ).all()
        newest: dict[str, int] = {}
        for deployment_id, division in found:
            newest.setdefault(str(division), deployment_id)
        return [self.row(session, i) for i in newest.values()]

    def latest_all(self, session: Session) -> list[Deployment]:
        """The newest published base version of every bundle, by key."""
        newest = (
            select(Deployment.key, func.max(Deployment.version).label("v"))
            .where(Deployment.division.is_(None), Deployment.status == PUBLISHED)
            .group_by(Deployment.key)
            .subquery()
        )
        ids = session.scalars(
            select(Deployment.id)
            .join(newest, (Deployment.key == newest.c.key) & (Deployment.version == newest.c.v))
            .order_by(Deployment.key)
        ).all()
        return [self.row(session, i) for i in ids]

    def definition(self, row: Deployment) -> BundleDefinition:
        """The parsed definition of a deployment (parsed once per digest)."""
        return self._definitions.get(row.digest, row.files)

    def form(self, row: Deployment) -> MergedForm:
        """The merged form of a deployment (merged once per digest)."""
        form = self._forms.get(row.digest)
        if form is None:
            form = merge_form(self.catalog, form_request(self.definition(row).manifest))
            with self._lock:
                self._forms[row.digest] = form
        return form

    def department_label(self, key: str) -> dict[str, str]:
        """zh/en name of a department (its key when unknown)."""
        found = self.departments.get(key)
        return {"zh": found["zh"], "en": found.get("en", key)} if found else {"zh": key, "en": key}


def _log_deployed(key: str, version: int, by: str, status: str) -> None:
    """The audit line of a new version: who stored it, and whether it is live or waits for review."""
    log.info("bundle %s v%s deployed by %s as %s", key, version, by, status)


def _variant_files_of(variant: Deployment, old_base: Deployment | None) -> dict[str, bytes]:
    """A deployed variant's own files again: its overlay, and its diagram when it brought one."""
    files = {MANIFEST_NAME: str(variant.files[OVERLAY_NAME]).encode("utf-8")}
    process = str(variant.manifest.get("process", "process.bpmn"))
    own = variant.files.get(process)
    if own is not None and (old_base is None or old_base.files.get(process) != own):
        files[process] = str(own).encode("utf-8")
    return files
