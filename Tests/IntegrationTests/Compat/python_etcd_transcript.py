"""Drives a v2 store with the python-etcd client (Debian's python3-etcd) and prints a transcript.

Run against real etcd and against our members; the transcripts must be equal. Values that differ
between any two clusters (member IDs, ports) are not printed.
"""
import sys
import etcd

host, port = sys.argv[1], int(sys.argv[2])
c = etcd.Client(host=host, port=port, allow_reconnect=False)


def show(label, fn):
    try:
        r = fn()
        if isinstance(r, etcd.EtcdResult):
            kids = sorted(ch.key for ch in r.leaves) if r.dir else []
            print(label, "ok", r.action, r.key, r.value, r.dir, r.ttl is not None, r.modifiedIndex, kids)
        else:
            print(label, "ok", r)
    except etcd.EtcdException as e:
        print(label, "error", type(e).__name__, str(e).split(" : ")[0])


show("write", lambda: c.write("/py/a", "1"))
show("read", lambda: c.read("/py/a"))
show("update", lambda: c.write("/py/a", "2", prevValue="1"))
show("cas-fail", lambda: c.write("/py/a", "3", prevValue="nope"))
show("cas-index-fail", lambda: c.write("/py/a", "3", prevIndex=1))
show("create-exists", lambda: c.write("/py/a", "x", prevExist=False))
show("ttl", lambda: c.write("/py/t", "t", ttl=60))
show("dir", lambda: c.write("/py/d", None, dir=True))
show("child", lambda: c.write("/py/d/x", "dx"))
show("hidden", lambda: c.write("/py/d/_h", "h"))
show("list", lambda: c.read("/py", recursive=True, sorted=True))
show("inorder", lambda: c.write("/py/q", "job", append=True))
show("missing", lambda: c.read("/py/missing"))
show("delete-dir-not-empty", lambda: c.delete("/py/d", dir=True))
show("delete-recursive", lambda: c.delete("/py/d", recursive=True))
show("cad", lambda: c.delete("/py/a", prevValue="2"))
show("read-deleted", lambda: c.read("/py/a"))
idx = c.write("/py/w", "before").modifiedIndex
show("watch-history", lambda: c.read("/py/w", wait=True, waitIndex=idx))
show("quorum", lambda: c.read("/py/w", quorum=True))
show("machines", lambda: len(c.machines))
show("leader-has-urls", lambda: bool(c.leader["clientURLs"]))
