"""Request and response models for providers, schools, rooms, pupils and staff."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    EmailStr,
    Field,
    JsonValue,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from telepresence.platform.http.routing import Schema
from telepresence.platform.security.identity import Role

__all__ = [
    "CameraConsentIn",
    "OffRollOut",
    "PinIn",
    "PupilCameraIn",
    "PupilIn",
    "PupilOut",
    "PupilPatch",
    "RoomIn",
    "RoomOut",
    "SchoolIn",
    "SchoolOut",
    "UserCreatedOut",
    "UserIn",
    "UserOut",
]

NAME = Field(min_length=1, max_length=100)


class SchoolIn(Schema):
    """A home school."""

    name: str = Field(min_length=1, max_length=200)
    # The document lists the zones, so a valid one is never refused and a made-up one never taken.
    time_zone: str = Field(
        default="Europe/London",
        max_length=64,
        json_schema_extra={"enum": list[JsonValue](sorted(zoneinfo.available_timezones()))},
    )
    contact_email: EmailStr | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone (like Europe/London)")
        return value


class SchoolOut(BaseModel):
    """A home school."""

    id: str
    name: str
    time_zone: str
    contact_email: str | None
    allow_pupil_camera: bool


class PupilCameraIn(Schema):
    """Whether this school's pupils may send their camera to the classroom (with consent)."""

    allowed: StrictBool


class CameraConsentIn(Schema):
    """Whether the pupil (and their parent/carer) consent to their camera in lessons.

    ``given_by`` (who consented, e.g. "Anna Kowalski, mother") and ``given_on`` (the
    day) are kept with a consent; the staff page always asks for them.
    """

    consent: StrictBool
    given_by: str | None = Field(default=None, min_length=2, max_length=200)
    given_on: date | None = None


class RoomIn(Schema):
    """A room of a school."""

    name: str = NAME
    building: str = Field(default="", max_length=100)
    floor: int = Field(default=0, ge=-5, le=50)


class RoomOut(BaseModel):
    """A room of a school."""

    id: str
    school_id: str
    name: str
    building: str
    floor: int


class PupilIn(Schema):
    """A pupil joining the provider's roll. No medical detail is taken."""

    first_name: str = NAME
    last_name: str = NAME
    school_id: str = Field(max_length=32)
    year_group: str = Field(default="", max_length=20)
    key_worker_id: str | None = Field(default=None, max_length=32)
    parent_consent: bool = False
    class_informed: bool = False


class PupilPatch(Schema):
    """Changes to a pupil; absent fields stay as they are."""

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    year_group: str | None = Field(default=None, max_length=20)
    key_worker_id: str | None = Field(default=None, max_length=32)
    parent_consent: bool | None = None
    class_informed: bool | None = None
    active: bool | None = None


class PupilOut(BaseModel):
    """A pupil as hospital staff see them."""

    id: str
    first_name: str
    last_name: str
    display_name: str
    school_id: str
    year_group: str
    key_worker_id: str | None
    parent_consent: bool
    class_informed: bool
    camera_consent: bool
    camera_consent_by: str | None = None
    camera_consent_on: date | None = None
    pupil_code: str
    has_pin: bool
    active: bool


class PinIn(Schema):
    """A new tablet PIN for a pupil (4 to 8 digits)."""

    pin: str = Field(pattern=r"^\d{4,8}$")


NOT_USERS = frozenset({Role.PUPIL, Role.DEVICE})


class UserIn(Schema):
    """A member of staff or an assistant; the password is generated when absent."""

    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    # Pupils and devices are not users: the document's enum leaves them out, as validation does.
    role: Annotated[
        Role,
        WithJsonSchema({"type": "string", "enum": [r.value for r in Role if r not in NOT_USERS]}),
    ]
    school_id: str | None = Field(default=None, max_length=32)
    password: str | None = Field(default=None, min_length=10, max_length=200)

    @field_validator("role")
    @classmethod
    def _person_role(cls, value: Role) -> Role:
        if value in NOT_USERS:
            raise ValueError("pupils and devices are not users; use their own endpoints")
        return value


class UserOut(BaseModel):
    """A user account (never its password)."""

    id: str
    email: str
    name: str
    role: Role
    school_id: str | None
    active: bool
    created_at: datetime


class UserCreatedOut(UserOut):
    """A new account; ``password`` is shown once when it was generated."""

    password: str | None


class OffRollBooking(BaseModel):
    """A booking that taking the pupil off roll cancels."""

    id: str
    starts_at: datetime
    subject: str
    room: str


class OffRollDevice(BaseModel):
    """A device that taking the pupil off roll releases."""

    id: str
    name: str
    kind: str


class OffRollOut(BaseModel):
    """What taking a pupil off roll changes (GET) or changed (POST)."""

    pupil_id: str
    on_roll: bool
    cancelled_bookings: list[OffRollBooking]
    released_devices: list[OffRollDevice]
    lessons_left_to_end: int
    tablet_signed_out: bool = True
