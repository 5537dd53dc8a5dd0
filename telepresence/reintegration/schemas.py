"""Requests and responses of the reintegration API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field, model_validator

from telepresence.platform.http.routing import Schema
from telepresence.reintegration.domain import Goal, Outcome, Phase, Rating

__all__ = [
    "ActionIn",
    "ActionOut",
    "ContactIn",
    "ContactOut",
    "EngagementOut",
    "FactorIn",
    "FactorOut",
    "FactorPatch",
    "InviteIn",
    "InviteOut",
    "NoteIn",
    "NoteOut",
    "PhaseIn",
    "PlanIn",
    "PlanOut",
    "PlanPatch",
    "RatingIn",
    "RatingOut",
    "ReviewIn",
    "ReviewOut",
    "RulesIn",
    "RulesOut",
    "TimelineItem",
    "TimelineQuery",
    "VisitIn",
    "VisitOut",
    "VisitRecordIn",
]

Party = Literal["home_school", "parent_carer"]
Channel = Literal["meeting", "call", "email", "visit"]
Assignee = Literal["key_worker", "school"]
Group = Literal["child", "parent_carer", "systemic"]
TimelineKind = Literal["phase", "review", "contact", "visit", "lesson", "alert", "note", "plan"]
Text = Field(default="", max_length=4000)


class PlanIn(Schema):
    """A new plan for a pupil placement; the pupil's key worker owns it."""

    pupil_id: str = Field(max_length=32)
    goal: Goal
    goal_detail: str = Field(default="", max_length=300)
    starts_on: date
    expected_weeks: int = Field(ge=1, le=104)
    review_dates: list[date] = Field(default_factory=list, max_length=26)


class PlanPatch(Schema):
    """Change the goal, the expected duration or the review dates."""

    goal: Goal | None = None
    goal_detail: str | None = Field(default=None, max_length=300)
    expected_weeks: int | None = Field(default=None, ge=1, le=104)
    review_dates: list[date] | None = Field(default=None, max_length=26)


class PhaseIn(Schema):
    """Move the plan to another phase (a skip or a step back needs a reason)."""

    phase: Phase
    reason: str = Field(default="", max_length=1000)
    outcome: Outcome | None = None
    school_weekdays: list[int] = Field(default_factory=list, max_length=7)
    school_lessons: list[str] = Field(default_factory=list, max_length=60)


class PlanOut(BaseModel):
    """A plan as its reader may see it."""

    id: str
    pupil_id: str
    pupil_name: str
    school_id: str
    key_worker_id: str
    key_worker_name: str
    goal: Goal
    goal_detail: str
    starts_on: date
    expected_weeks: int
    expected_end: date
    review_dates: list[date]
    phase: Phase
    school_weekdays: list[int]
    school_lessons: list[str]
    outcome: Outcome | None
    closed_at: datetime | None


class FactorIn(Schema):
    """A readiness factor of the provider."""

    group: Group
    label: str = Field(min_length=1, max_length=200)


class FactorPatch(Schema):
    """Rename or retire a factor (retired factors stay on past reviews)."""

    label: str | None = Field(default=None, min_length=1, max_length=200)
    retired: bool | None = None


class FactorOut(BaseModel):
    """A readiness factor."""

    id: str
    group: Group
    label: str
    retired: bool


class RatingIn(Schema):
    """One factor's rating at a review."""

    factor_id: str = Field(max_length=32)
    rating: Rating
    note: str = Field(default="", max_length=2000)


class ReviewIn(Schema):
    """A review: when it was held, the ratings and the decisions."""

    held_on: date
    decisions: str = Text
    ratings: list[RatingIn] = Field(min_length=1, max_length=60)


class RatingOut(BaseModel):
    """A factor's rating, with the previous review's and which way it moved."""

    factor_id: str
    group: Group
    label: str
    rating: Rating | None
    note: str
    before: Rating | None
    direction: str


class EngagementOut(BaseModel):
    """Lessons since the previous review (or the plan's start) up to this review."""

    since: date
    until: date
    booked: int
    attended: int
    partial: int
    missed: int
    source: str
    minutes: int | None


class ReviewOut(BaseModel):
    """A review with how its ratings moved since the previous one."""

    id: str
    plan_id: str
    held_on: date
    decisions: str
    recorded_by: str
    previous_review_id: str | None
    ratings: list[RatingOut]
    engagement: EngagementOut | None


class ActionIn(Schema):
    """An action agreed at a contact and who is to do it."""

    text: str = Field(min_length=1, max_length=500)
    assignee: Assignee
    due_on: date | None = None


class ActionOut(BaseModel):
    """An agreed action; open while ``done_at`` is null."""

    id: str
    contact_id: str
    text: str
    assignee: Assignee
    due_on: date | None
    done_at: datetime | None


class ContactIn(Schema):
    """A contact with the home school or the parents/carers."""

    happened_on: date
    party: Party
    people: str = Field(min_length=1, max_length=300)
    channel: Channel
    summary: str = Text
    shared: bool = False
    actions: list[ActionIn] = Field(default_factory=list, max_length=20)


class ContactOut(BaseModel):
    """A recorded contact and its actions."""

    id: str
    happened_on: date
    party: Party
    people: str
    channel: Channel
    summary: str
    shared: bool
    recorded_role: str
    actions: list[ActionOut]


class VisitIn(Schema):
    """An after-care visit's time (aware datetimes; stored in UTC)."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _order(self) -> VisitIn:
        if not self.starts_at < self.ends_at:
            raise ValueError("a visit must end after it starts")
        if (self.ends_at - self.starts_at).total_seconds() > 10 * 3600:
            raise ValueError("a visit lasts at most ten hours")
        return self


class VisitRecordIn(Schema):
    """What happened at a visit (or that it did not happen)."""

    status: Literal["done", "cancelled"]
    notes: str = Text


class VisitOut(BaseModel):
    """An after-care visit."""

    id: str
    plan_id: str
    school_id: str
    starts_at: datetime
    ends_at: datetime
    status: str
    notes: str
    revision: int


class NoteIn(Schema):
    """A note on the plan: internal, or shared with the home school."""

    text: str = Field(min_length=1, max_length=4000)
    shared: bool = False


class NoteOut(BaseModel):
    """A note on the plan."""

    id: str
    at: datetime
    author_name: str
    text: str
    shared: bool


class InviteIn(Schema):
    """Invite the home school's named contact for this pupil."""

    email: EmailStr
    name: str = Field(min_length=1, max_length=200)


class InviteOut(BaseModel):
    """The invited account; the link is emailed, and shown here once."""

    user_id: str
    email: str
    invite_link: str
    notified: bool


class RulesIn(Schema):
    """The provider's alert settings."""

    no_contact_days: int = Field(ge=1, le=180)
    review_remind_days: int = Field(ge=0, le=60)


class RulesOut(RulesIn):
    """The provider's alert settings."""


class TimelineQuery(Schema):
    """Which kinds of entry to show (comma-separated; all when empty)."""

    kinds: str = Field(default="", max_length=200)


class TimelineItem(BaseModel):
    """One entry on the pupil's timeline."""

    at: datetime
    kind: TimelineKind
    title: str
    detail: str
    actor: str
    shared: bool
