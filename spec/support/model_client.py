"""The shipped SQLModel model (python/taskdb_model.py), driven by the specs.

    python3 spec/support/model_client.py '<JSON array of commands>'

Environment: TASKDB_MODEL_DSN (a libpq URL or key=value string, like
DATABASE_URL) and TASKDB_MODEL_TZ (the session TimeZone, optional).
Each command is an array; the output is one JSON array with a result per
command:
    ["create_all"]              -> the DDL statements create_all sent (echo)
    ["create", {task fields}]   -> the task, as read back
    ["get", id]                 -> the task or null
    ["update", id, {fields}]    -> the task or null (ORM attribute changes)
    ["toggle", id]              -> the task or null (completed = not completed)
    ["delete", id]              -> true or false
    ["list", user_id]           -> the user's tasks, ordered by created_at, id
    ["session_timezone"]        -> the session's TimeZone
A task is {id, user_id, title, description, completed, created_at,
updated_at, created_at_local}: times as taskdb prints them (UTC,
microseconds, "Z"), created_at_local as this session received it.
"""

import json
import logging
import os
import sys
from datetime import timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import psycopg2  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, SQLModel, create_engine, select  # noqa: E402

from taskdb_model import Task  # noqa: E402


class DDLLog(logging.Handler):
    """Collects every statement the engine sends that changes the schema."""

    def __init__(self):
        super().__init__()
        self.ddl = []

    def emit(self, record):
        msg = record.getMessage().strip()
        if msg.split(" ", 1)[0].upper() in ("CREATE", "ALTER", "DROP", "COMMENT"):
            self.ddl.append(" ".join(msg.split()))


def utc(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_json(task):
    if task is None:
        return None
    return {
        "id": task.id, "user_id": task.user_id, "title": task.title,
        "description": task.description, "completed": task.completed,
        "created_at": utc(task.created_at), "updated_at": utc(task.updated_at),
        "created_at_local": task.created_at.isoformat(),
    }


def main():
    dsn = os.environ["TASKDB_MODEL_DSN"]
    tz = os.environ.get("TASKDB_MODEL_TZ")
    kwargs = {"options": "-c TimeZone=" + tz} if tz else {}
    engine = create_engine("postgresql+psycopg2://",
                           creator=lambda: psycopg2.connect(dsn, **kwargs))
    log = DDLLog()
    logger = logging.getLogger("sqlalchemy.engine")
    logger.addHandler(log)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    results = []
    for cmd in json.loads(sys.argv[1]):
        op = cmd[0]
        if op == "create_all":
            log.ddl.clear()
            SQLModel.metadata.create_all(engine)
            results.append(list(log.ddl))
            continue
        with Session(engine) as session:
            if op == "session_timezone":
                results.append(session.exec(text("SHOW TimeZone")).one()[0])
            elif op == "create":
                task = Task(**cmd[1])
                session.add(task)
                session.commit()
                session.refresh(task)
                results.append(as_json(task))
            elif op == "get":
                results.append(as_json(session.get(Task, cmd[1])))
            elif op in ("update", "toggle"):
                task = session.get(Task, cmd[1])
                if task is not None:
                    if op == "toggle":
                        task.completed = not task.completed
                    else:
                        for key, value in cmd[2].items():
                            setattr(task, key, value)
                    session.add(task)
                    session.commit()
                    session.refresh(task)
                results.append(as_json(task))
            elif op == "delete":
                task = session.get(Task, cmd[1])
                if task is not None:
                    session.delete(task)
                    session.commit()
                results.append(task is not None)
            elif op == "list":
                rows = session.exec(select(Task).where(Task.user_id == cmd[1])
                                    .order_by(Task.created_at, Task.id)).all()
                results.append([as_json(t) for t in rows])
            else:
                raise SystemExit("model_client: unknown command " + op)
    sys.stdout.write(json.dumps(results, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
