"""The `tasks` table shared with taskdb, as a SQLModel model.

Copy this module into a FastAPI + SQLModel backend (SQLModel 0.0.8 or later,
SQLAlchemy 1.4 or 2.0, psycopg2) instead of writing the model by hand: it
declares the table exactly as taskdb's `init_db` creates it -- column types
and lengths, NOT NULLs, the CHECKs, the server defaults, the key and the
index names -- so whichever side creates the table first, the other accepts
it, and both read and write the same rows.

    from sqlmodel import Session, SQLModel, create_engine
    from taskdb_model import Task, TaskCreate, TaskUpdate

    engine = create_engine("postgresql+psycopg2://USER:PASSWORD@HOST/DB?sslmode=require")
    SQLModel.metadata.create_all(engine)   # sends no DDL when the table exists

What the table keeps true for every client, and this module for the app:

- `user_id` and `title` are never blank: "blank" means made only of Unicode
  White_Space characters (WHITE_SPACE below), the same set in taskdb's C
  check, in the table's CHECKs and in `is_blank` here.
- Lengths are characters, not bytes: user_id 1-255, title 1-200,
  description at most 1000 (or NULL).
- `created_at` and `updated_at` are `timestamp with time zone`, set by the
  server; every client reads the same instants whatever its session
  TimeZone.  `updated_at` moves forward on every change made through this
  model too (`onupdate=TOUCH`), even twice in one transaction.
- No constraint depends on the writer's clock.
"""

from datetime import datetime
from typing import Optional

from pydantic import validator
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, DateTime,
                        Identity, Index, String, text)
from sqlmodel import Field, SQLModel

# Unicode's White_Space property, code point for code point: U+0009-000D,
# U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F,
# U+205F, U+3000.
WHITE_SPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)] + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"])

# The same set as a PostgreSQL regular expression: "has a character that
# is not white space".  An E'' literal, so it reads the same whatever the
# server's standard_conforming_strings.
NOT_BLANK = (r"E'[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a"
             r"\\u2028\\u2029\\u202f\\u205f\\u3000]'")

# updated_at on every UPDATE: the later of the statement's start and one
# microsecond past the current value (what taskdb's own statements do;
# only functions that Citus accepts in an UPDATE).
TOUCH = text("GREATEST(statement_timestamp(), "
             "((updated_at AT TIME ZONE 'UTC') + interval '1 microsecond') AT TIME ZONE 'UTC')")

USER_ID_MAX, TITLE_MAX, DESCRIPTION_MAX = 255, 200, 1000


def is_blank(s: str) -> bool:
    """True when s is empty or made only of Unicode White_Space characters."""
    return all(ch in WHITE_SPACE for ch in s)


class Task(SQLModel, table=True):
    """One row of public.tasks, as taskdb's init_db creates it."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(text("user_id ~ " + NOT_BLANK), name="tasks_user_id_not_blank"),
        CheckConstraint(text("title ~ " + NOT_BLANK), name="tasks_title_not_blank"),
        Index("tasks_user_created_idx", "user_id", "created_at", "id"),
        Index("tasks_created_idx", "created_at", "id"),
        {"schema": "public"},
    )

    id: Optional[int] = Field(default=None, sa_column=Column(
        "id", BigInteger, Identity(always=False), primary_key=True))
    user_id: str = Field(sa_column=Column("user_id", String(USER_ID_MAX), nullable=False))
    title: str = Field(sa_column=Column("title", String(TITLE_MAX), nullable=False))
    description: Optional[str] = Field(default=None, sa_column=Column(
        "description", String(DESCRIPTION_MAX), nullable=True))
    completed: bool = Field(default=False, sa_column=Column(
        "completed", Boolean, nullable=False, server_default=text("false")))
    # None until the server has set them: the ORM leaves them to the
    # server's defaults on INSERT and reads them back.
    created_at: Optional[datetime] = Field(default=None, sa_column=Column(
        "created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")))
    updated_at: Optional[datetime] = Field(default=None, sa_column=Column(
        "updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()"),
        onupdate=TOUCH))


def _check_text(name: str, value: Optional[str], limit: int, required: bool) -> Optional[str]:
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return value
    if "\x00" in value:
        raise ValueError(f"{name} must not contain a NUL character")
    if required and value == "":
        raise ValueError(f"{name} must not be empty")
    if required and is_blank(value):
        raise ValueError(f"{name} must not be blank")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value)} characters long; at most {limit} are allowed")
    return value


class TaskCreate(SQLModel):
    """A request body for creating a task: taskdb's field rules, checked before the database."""

    user_id: str
    title: str
    description: Optional[str] = None
    completed: bool = False

    @validator("user_id")
    def _user_id(cls, v):
        return _check_text("user_id", v, USER_ID_MAX, True)

    @validator("title")
    def _title(cls, v):
        return _check_text("title", v, TITLE_MAX, True)

    @validator("description")
    def _description(cls, v):
        return _check_text("description", v, DESCRIPTION_MAX, False)


class TaskUpdate(SQLModel):
    """A partial update: fields left out are kept (id, user_id and the times cannot change)."""

    title: Optional[str] = None
    description: Optional[str] = None
    completed: Optional[bool] = None

    @validator("title")
    def _title(cls, v):
        if v is None:
            raise ValueError("title cannot be cleared")
        return _check_text("title", v, TITLE_MAX, True)

    @validator("description")
    def _description(cls, v):
        return _check_text("description", v, DESCRIPTION_MAX, False)
