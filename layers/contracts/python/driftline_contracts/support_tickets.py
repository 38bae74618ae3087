"""Support tickets routed to a team: a multiclass example (the training set with the team
that resolved each ticket, the new tickets to route, and the teams that resolved routed
tickets later: the labels that measure the router)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from driftline_runtime.contracts import DatasetSpec, QualitySettings, TableRules
from pydantic import BaseModel, Field


class Ticket(BaseModel):
    ticket_id: str = Field(pattern=r"^tk-\d{8}$")
    opened_at: datetime
    customer_id: str = Field(pattern=r"^cu-\d{6}$")
    channel: Literal["email", "chat", "phone", "web"]
    product: Literal["app", "website", "api", "billing-portal"]
    customer_tier: Literal["free", "pro", "enterprise"]
    message_words: int = Field(ge=1, le=2_000)
    attachments: int = Field(ge=0, le=10)
    previous_tickets: int = Field(ge=0, le=200)
    sentiment: float = Field(ge=-1, le=1)


Team = Literal["billing", "technical", "account", "shipping"]


class RoutedTicket(Ticket):
    team: Team


class TicketResolution(BaseModel):
    """Which team resolved a routed ticket, learnt when it was closed."""

    ticket_id: str = Field(pattern=r"^tk-\d{8}$")
    team: Team


DATASETS = (
    DatasetSpec(
        name="tickets",
        kind="training",
        contract=RoutedTicket,
        contract_version="1.0.0",
        id_column="ticket_id",
        problem="multiclass",
        target="team",
        time_column="opened_at",
        primary_metric="macro_f1",
        approval_minimum=0.3,
        pii_columns=("customer_id",),
        row_policy="drop_bad_rows",
        rules=TableRules(unique_key=("ticket_id",), min_rows=50, max_bad_row_share=0.05),
    ),
    DatasetSpec(
        name="ticket-triage",
        kind="inference",
        contract=Ticket,
        contract_version="1.0.0",
        model_dataset="tickets",
        id_column="ticket_id",
        time_column="opened_at",
        pii_columns=("customer_id",),
        row_policy="drop_bad_rows",
        rules=TableRules(
            unique_key=("ticket_id",),
            max_bad_row_share=0.05,
            freshness_column="opened_at",
            max_age=timedelta(days=3650),
        ),
    ),
    DatasetSpec(
        name="ticket-triage-labels",
        kind="labels",
        contract=TicketResolution,
        contract_version="1.0.0",
        labels_for="ticket-triage",
        id_column="ticket_id",
        target="team",
        # Macro F1 five points below the router's test value, on at least 100 tickets.
        quality=QualitySettings(max_drop=0.05, min_labelled_rows=100),
        row_policy="drop_bad_rows",
        rules=TableRules(min_rows=1, max_bad_row_share=0.05),
    ),
)
