#!/usr/bin/env python3
"""A tiny to-do app on duro: tasks in SQL, each user's task list in the
Datastore, the last-seen time in KV, an attachment in blobs.

    python3 examples/python/todo.py add alice "buy milk"
    python3 examples/python/todo.py list alice

The server is $DURO_URL (default http://127.0.0.1:8787); run it with
PYTHONPATH=sdk/python (or after pip install ./sdk/python)."""

import sys
import time

import era_storage
from duro import Client, Datastore

NS = "todo-example"


def main(argv):
    if len(argv) < 3 or argv[1] not in ("add", "done", "list"):
        print(__doc__)
        return 2
    cmd, user = argv[1], argv[2]
    c = Client()
    ds = Datastore(c, namespaces={"task": NS + "-tasks", "list": NS + "-lists"}).kv.auth(user)
    era_storage.d1.exec(NS, "CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY,"
                            " owner TEXT NOT NULL, title TEXT NOT NULL, done INTEGER DEFAULT 0)")
    if cmd == "add":
        meta = era_storage.d1.exec(NS, "INSERT INTO tasks (owner, title) VALUES (?, ?)",
                                   [user, argv[3]])
        tid = str(meta["last_row_id"])
        ds.put("TASK", tid, {"title": argv[3]})
        ds.queryListAddItem("tasks", user, tid)
        era_storage.r2.put(NS, "notes/%s.txt" % tid, "added by %s" % user)
        print("added task", tid)
    elif cmd == "done":
        era_storage.d1.exec(NS, "UPDATE tasks SET done = 1 WHERE id = ? AND owner = ?",
                            [int(argv[3]), user])
        ds.queryListRemoveItem("tasks", user, argv[3])
        print("done", argv[3])
    else:
        for tid in ds.queryListByPointer("tasks", user):
            task = ds.get("TASK", tid)
            note = era_storage.r2.get(NS, "notes/%s.txt" % tid)
            print("%s\t%s\t(%s)" % (tid, task["title"], note.decode()))
    era_storage.kv.set(NS, "seen:" + user, int(time.time() * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
