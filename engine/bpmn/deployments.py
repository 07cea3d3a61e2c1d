"""Deployed bundle versions: deploy (immutable, N+1 on change), look up, describe.

A deployment is a spec: its files are stored once; its parsed definition and merged form
are cached in memory by digest, so a case action never parses a diagram.

May import: ``engine.bpmn`` (definitions, manifest, validation), ``engine.storage``, ``engine.errors``,
``forms``.
"""

from __future__ import annotations

import io
import threading
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.bpmn.definitions import BundleDefinition, DefinitionCache, digest_files, read_bundle_dir
from engine.bpmn.manifest import MAX_VERSION, form_request
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.errors import BundleNotFound, DefinitionError, Problem, TooLarge
from engine.storage.db import Database
from engine.storage.models import Deployment
from engine.storage.settings import Settings
from forms.catalog import Catalog
from forms.merge import MergedForm, merge_form

ZIP_MAX_FILES = 64
ZIP_MAX_RATIO = 50


@dataclass(frozen=True)
class Deployed:
    """The result of a deployment: which version, and whether it is new."""

    key: str
    version: int
    created: bool


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
    """Deploys bundles and serves their definitions and merged forms from caches."""

    def __init__(self, db: Database, settings: Settings, catalog: Catalog) -> None:
        self.db = db
        self.settings = settings
        self.catalog = catalog
        self.departments = load_departments(settings.processes_dir)
        self._definitions = DefinitionCache()
        self._forms: dict[str, MergedForm] = {}
        self._rows: dict[int, Deployment] = {}
        self._lock = threading.Lock()

    # -- deploying -------------------------------------------------------------------
    def deploy_files(self, files: Mapping[str, bytes], by: str = "system") -> Deployed:
        """Validate and store a bundle; unchanged content keeps its version, changes make N+1."""
        digest = digest_files(files)
        with self.db.read() as session:
            known = session.scalars(select(Deployment).where(Deployment.digest == digest)).first()
            if known is not None:  # deployed before (every start deploys the shipped bundles)
                return Deployed(known.key, known.version, created=False)
        report = validate_bundle_files(files, source="upload")
        if report.problems:
            raise DefinitionError(f"{len(report.problems)} problem(s) in the bundle", list(report.problems))
        definition = self._definitions.get(
            digest, {name: data.decode("utf-8") for name, data in files.items()}
        )
        key = definition.key
        for _attempt in range(3):
            try:
                with self.db.write() as session:
                    same = session.scalars(
                        select(Deployment).where(
                            Deployment.key == key, Deployment.digest == definition.digest
                        )
                    ).first()
                    if same is not None:
                        return Deployed(key, same.version, created=False)
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
                        )
                    )
                return Deployed(key, version, created=True)
            except IntegrityError:
                continue  # another process deployed the same key at the same moment
        raise DefinitionError(f"{key}: concurrent deployments, try again", [Problem("并发部署冲突，请重试")])

    def deploy_dir(self, path: Path, by: str = "system") -> Deployed:
        """Deploy a bundle folder."""
        return self.deploy_files(read_bundle_dir(path), by)

    def deploy_zip(self, data: bytes, by: str) -> Deployed:
        """Deploy an uploaded zip of a bundle folder."""
        return self.deploy_files(unzip_bundle(data, self.settings.max_bundle_bytes), by)

    def deploy_shipped(self) -> list[Deployed]:
        """Deploy every bundle folder of ``processes/`` (new digests only)."""
        root = self.settings.processes_dir
        return [
            self.deploy_dir(child)
            for child in sorted(root.iterdir())
            if child.is_dir() and (child / "bundle.yaml").exists()
        ]

    # -- looking up ------------------------------------------------------------------
    def row(self, session: Session, deployment_id: int) -> Deployment:
        """A deployment row (immutable, so cached by id)."""
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
        """The newest (or the given) version of a bundle."""
        query = select(Deployment.id).where(Deployment.key == key)
        if version is not None:
            query = query.where(Deployment.version == version)
        deployment_id = session.scalar(query.order_by(Deployment.version.desc()).limit(1))
        if deployment_id is None:
            raise BundleNotFound(
                f"没有这个事项包 (no bundle {key!r}" + (f" version {version})" if version else ")")
            )
        return self.row(session, deployment_id)

    def latest_all(self, session: Session) -> list[Deployment]:
        """The newest version of every bundle, by key."""
        newest = (
            select(Deployment.key, func.max(Deployment.version).label("v"))
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
