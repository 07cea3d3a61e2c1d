"""Webhooks for admins: subscriptions (the secret shown once), their deliveries, dead letters and replays.

The engine side is ``engine.integration.subscriptions``; what is sent and how it is signed
is in ``docs/webhooks.md``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse

from api.deps import MAX_ID, AdminActor, EngineDep, IdempotencyKey, ServicesDep
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.webhooks import (
    DeliveryPublic,
    DeliveryState,
    ReplayedPublic,
    SecretPublic,
    SecretRotate,
    WebhookCreate,
    WebhookCreatedPublic,
    WebhookPublic,
    WebhookUpdate,
)
from engine.integration.subscriptions import OUTCOME, Webhooks
from engine.storage.idempotency import Reservation, outcome_id

router = PrefixedRouter(prefix="/api/webhooks", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="Webhook id")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="投递 id (delivery id)")]


def get_webhooks(engine: EngineDep) -> Webhooks:
    """The admin's webhook operations on the engine's database and clock."""
    return Webhooks(engine.db, engine.clock)


WebhooksDep = Annotated[Webhooks, Depends(get_webhooks)]


def _host(url: str) -> str | None:
    """The host of a receiver's URL, for the log: the URL itself may carry a token in its query."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None  # malformed: the engine refuses it


@router.get("", response_model=list[WebhookPublic], responses=responses(403))
def list_webhooks(admin: AdminActor, webhooks: WebhooksDep) -> list[WebhookPublic]:
    """Every subscription, with its delivery counts."""
    return [WebhookPublic.from_view(v) for v in webhooks.subscriptions(admin)]


@router.post(
    "",
    response_model=WebhookCreatedPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 422),
)
def create_webhook(
    body: WebhookCreate,
    admin: AdminActor,
    webhooks: WebhooksDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a receiver; the answer holds its signing secret, shown this once."""
    note(webhook_host=_host(body.url))

    def work(reservation: Reservation | None) -> WebhookCreatedPublic:
        created = webhooks.create(
            admin,
            body.url,
            name=body.name,
            kinds=body.kinds,
            bundles=body.bundles,
            departments=body.departments,
            format=body.format,
            secret=body.secret,
            active=body.active,
            reservation=reservation,
        )
        return WebhookCreatedPublic(
            webhook=WebhookPublic.from_view(created.subscription), secret=created.secret
        )

    def recover(outcome: str) -> WebhookCreatedPublic:
        # A retry after a crash: the subscription exists; its secret is not shown again.
        view = webhooks.get(admin, outcome_id(outcome, OUTCOME))
        return WebhookCreatedPublic(webhook=WebhookPublic.from_view(view), secret=None)

    asked = body.model_dump(mode="json", exclude={"secret"})  # a secret never goes into the digest
    asked["secret_given"] = body.secret is not None
    return run_once(services, admin, idempotency_key, ("POST", request.url.path, asked), 201, work, recover)


@router.get("/{webhook_id}", response_model=WebhookPublic, responses=responses(403, 404, 422))
def get_webhook(webhook_id: WebhookId, admin: AdminActor, webhooks: WebhooksDep) -> WebhookPublic:
    """One subscription."""
    return WebhookPublic.from_view(webhooks.get(admin, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookPublic, responses=responses(403, 404, 422))
def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    admin: AdminActor,
    webhooks: WebhooksDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change URL, name, filters, format or the active flag (filters apply to events from now on)."""
    note(webhook=webhook_id, changed=sorted(body.model_fields_set))

    def work(_reservation: Reservation | None) -> WebhookPublic:
        view = webhooks.update(
            admin,
            webhook_id,
            url=body.url,
            name=body.name,
            kinds=body.kinds,
            bundles=body.bundles,
            departments=body.departments,
            format=body.format,
            active=body.active,
        )
        return WebhookPublic.from_view(view)

    asked = body.model_dump(mode="json", exclude_unset=True)
    return run_once(services, admin, idempotency_key, ("PATCH", request.url.path, asked), 200, work)


@router.delete("/{webhook_id}", response_model=WebhookPublic, responses=responses(403, 404, 422))
def delete_webhook(
    webhook_id: WebhookId,
    admin: AdminActor,
    webhooks: WebhooksDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Remove a subscription and its deliveries; answers the subscription as it was."""
    note(webhook=webhook_id)

    def work(_reservation: Reservation | None) -> WebhookPublic:
        view = webhooks.get(admin, webhook_id)
        webhooks.delete(admin, webhook_id)
        return WebhookPublic.from_view(view)

    return run_once(services, admin, idempotency_key, ("DELETE", request.url.path, None), 200, work)


@router.post("/{webhook_id}/secret", response_model=SecretPublic, responses=responses(403, 404, 422))
def rotate_secret(
    webhook_id: WebhookId,
    body: SecretRotate,
    admin: AdminActor,
    webhooks: WebhooksDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A new signing secret (given or generated), shown this once; the next tries sign with it."""
    note(webhook=webhook_id)

    def work(_reservation: Reservation | None) -> SecretPublic:
        return SecretPublic(secret=webhooks.rotate_secret(admin, webhook_id, body.secret))

    asked = {"secret_given": body.secret is not None}
    return run_once(services, admin, idempotency_key, ("POST", request.url.path, asked), 200, work)


@router.get(
    "/{webhook_id}/deliveries", response_model=list[DeliveryPublic], responses=responses(403, 404, 422)
)
def list_deliveries(
    webhook_id: WebhookId,
    admin: AdminActor,
    webhooks: WebhooksDep,
    state: Annotated[
        DeliveryState | None, Query(description="pending, delivered 或 dead (dead letters)")
    ] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="只列此 id 之后的 (ids above this)")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    """A subscription's deliveries in order, optionally of one state (``dead``: the dead letters)."""
    found = webhooks.deliveries(admin, webhook_id, state=state, after_id=after, limit=limit)
    return [DeliveryPublic.from_view(d) for d in found]


@router.post(
    "/{webhook_id}/deliveries/replay-dead", response_model=ReplayedPublic, responses=responses(403, 404, 422)
)
def replay_dead(
    webhook_id: WebhookId,
    admin: AdminActor,
    webhooks: WebhooksDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Send every dead delivery of the subscription again (same event ids and bodies)."""
    note(webhook=webhook_id)

    def work(_reservation: Reservation | None) -> ReplayedPublic:
        return ReplayedPublic(replayed=webhooks.replay_dead(admin, webhook_id))

    return run_once(services, admin, idempotency_key, ("POST", request.url.path, None), 200, work)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryPublic,
    responses=responses(403, 404, 422),
)
def replay_delivery(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    admin: AdminActor,
    webhooks: WebhooksDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Send one delivery again (a dead or a delivered one); a pending one is left as it is."""
    note(webhook=webhook_id, delivery=delivery_id)

    def work(_reservation: Reservation | None) -> DeliveryPublic:
        return DeliveryPublic.from_view(webhooks.replay(admin, webhook_id, delivery_id))

    return run_once(services, admin, idempotency_key, ("POST", request.url.path, None), 200, work)
