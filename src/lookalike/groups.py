"""Who is who among the faces nobody named: group them into people, then name the groups.

``lookalike cluster`` groups the index's unnamed faces (those of photos indexed
``--unnamed``, and the bystanders of named photos) with :mod:`lookalike.cluster` and stores
the groups in the index (``face_groups``), so that ``lookalike name GROUP "Person"`` can
credit a group's faces to a person.  A re-run keeps the id of each group that is still
there: a new group takes the id of the old group it holds more than half of (the old
group's faces that are still unnamed), the biggest overlaps first, each id once; any other
group gets an id never used before.

Names given by hand are stored by the photo's content hash and the face's box
(``named_faces``), not by face id: re-indexing a changed, moved or copied photo makes new
face rows, but the same photo content has the same faces, so the names survive it.  A name
given by hand wins over the name of the photo's folder or file.

Naming someone with a name the index already has merges the two: asked for
(``merge=True``), never by surprise.  A person can be renamed (:func:`rename_person`), faces
made nobody's (:func:`take_away`), two groups merged (:func:`merge_groups`) and a face taken
out of its group (:func:`move_out`).  The last change of any of these can be taken back
(:func:`undo`): each face gets the name it had and its group back.  A named group's id is
remembered, so that naming it again says what it became.  A re-run of ``cluster`` groups
the unnamed faces from scratch: it keeps ids (:func:`keep_ids`), not the merges and
move-outs made by hand, which it may undo.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from . import ann
from . import cluster as clusterlib
from .api import find_person, named_box, person
from .gallery import cohort_for
from .index import Index, IndexFileError


@dataclass
class Group:
    """A group of unnamed faces, probably one person."""

    id: int
    face_ids: list[int]
    new: bool = False  # not a group of the run before

    @property
    def size(self) -> int:
        return len(self.face_ids)


@dataclass
class Clustering:
    """What one ``cluster`` run found: every group of the unnamed faces, biggest first."""

    groups: list[Group]
    method: clusterlib.Method
    faces: int


@dataclass
class Naming:
    """What one ``name`` did: which faces now have which name."""

    name: str
    face_ids: list[int]
    merged: bool  # the name was someone's already: their faces and these are one person
    group: int | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "faces": len(self.face_ids),
            "face_ids": self.face_ids,
            "merged": self.merged,
        }


def method_for(idx: Index) -> tuple[clusterlib.Method, object]:
    """The clustering method for this index's faces, and the cohort it calibrates against
    (None: the index's settings have no built-in gallery to calibrate against)."""
    settings = idx.settings()
    cohort = cohort_for(settings)
    return clusterlib.chosen(settings.networks, cohort is not None), cohort


#: The nearest faces each face is compared with when the index is big enough for the
#: approximate index (:func:`ann.neighbours`): pairs within the line beyond these are rare.
NEIGHBOURS = 30


def cluster_index(idx: Index, threshold: float | None = None, again: bool = False) -> Clustering:
    """Group the index's unnamed faces and store the groups (ids kept: module docstring);
    ``threshold`` replaces the chosen method's line.  From :data:`ann.THRESHOLD` faces on,
    each face is compared with its nearest faces, found through the approximate index,
    not with every face; and where groups are stored already, only the faces not in one
    (indexed since) are placed: each joins the group most of its near faces are in, the
    rest are grouped among themselves (``again``: every face grouped from scratch)."""
    with idx.writer():
        method, cohort = method_for(idx)
        if threshold is not None:
            method = replace(method, threshold=threshold)
        g = idx.gallery()
        rows = np.flatnonzero(g.person < 0)
        old = stored_groups(idx)
        if not ann.wanted("auto", len(g.X)):
            groups = _regrouped(idx, g, rows, clusterlib.cluster(g.X[rows], method, cohort), old)
        elif old and not again:
            groups = _placed(idx, g, rows, method, cohort, old)
        else:
            near = _near_pairs(idx, g, rows)
            labels = clusterlib.cluster(g.X[rows], method, cohort, near)
            groups = _regrouped(idx, g, rows, labels, old)
        _store(idx, groups)
    return Clustering(groups, method, len(rows))


def _regrouped(
    idx: Index, g, rows: np.ndarray, labels: np.ndarray, old: dict[int, list[int]]
) -> list[Group]:
    """The groups of ``labels``, each with the id of the old group it continues."""
    found = _members(g.face_ids[rows], labels)
    ids = keep_ids(found, {gid: set(m) for gid, m in old.items()}, _next_id(idx, old))
    return [Group(gid, members, gid not in old) for gid, members in zip(ids, found, strict=True)]


def _near_pairs(idx: Index, g, rows: np.ndarray, among: np.ndarray | None = None):
    """Pairs ``(a, b)`` of positions in ``among`` (default: ``rows``): ``among[b]`` is
    one of the nearest faces of ``among[a]``, one of ``rows``."""
    among = rows if among is None else among
    graph = ann.open_graph(idx.path, g, build=False)
    i, j = ann.neighbours(graph, rows, NEIGHBOURS)
    at = np.clip(np.searchsorted(among, j), 0, max(len(among) - 1, 0))
    ok = (among[at] == j) if len(among) else np.zeros(len(j), bool)
    return np.searchsorted(among, i[ok]), at[ok]


def _placed(
    idx: Index, g, rows: np.ndarray, method, cohort, old: dict[int, list[int]]
) -> list[Group]:
    """The stored groups, each unnamed face not in one placed: in the group most of its
    near faces within the line are in (ties: the nearest), or grouped with the other
    faces left (new ids)."""
    group_of = {f: gid for gid, faces in old.items() for f in faces}
    new = rows[[int(f) not in group_of for f in g.face_ids[rows]]]
    members = {gid: list(faces) for gid, faces in old.items()}
    if len(new):
        joined = _joined(idx, g, rows, new, method, cohort, group_of)
        for face, gid in joined.items():
            members[gid].append(face)
        left = new[[int(f) not in joined for f in g.face_ids[new]]]
        members.update(_among_themselves(idx, g, left, method, cohort, old))
    groups = [Group(gid, sorted(faces), gid not in old) for gid, faces in members.items()]
    return sorted(groups, key=lambda grp: (-grp.size, grp.id))


def _joined(idx: Index, g, rows, new, method, cohort, group_of: dict[int, int]) -> dict[int, int]:
    """The group each new face joins (face id -> group id): the one most of its near faces
    within the line are in, ties to the nearest; faces with none are left out."""
    a, b = _near_pairs(idx, g, new, rows)
    used, at = np.unique(np.concatenate([a, b]), return_inverse=True)
    d = clusterlib.pair_distances(g.X[rows[used]], at[: len(a)], at[len(a) :], method, cohort)
    votes: dict[int, Counter] = {}
    nearest: dict[tuple[int, int], float] = {}
    for face, other, dist in zip(g.face_ids[rows[a]], g.face_ids[rows[b]], d, strict=True):
        gid = group_of.get(int(other))
        if gid is not None and dist <= method.threshold:
            votes.setdefault(int(face), Counter())[gid] += 1
            nearest[int(face), gid] = min(nearest.get((int(face), gid), np.inf), float(dist))
    return {
        face: max(counted, key=lambda gid: (counted[gid], -nearest[face, gid]))
        for face, counted in votes.items()
    }


def _among_themselves(idx: Index, g, left: np.ndarray, method, cohort, old) -> dict:
    """New groups (new ids) of the faces that joined none."""
    if not len(left):
        return {}
    near = _near_pairs(idx, g, left)
    labels = clusterlib.cluster(g.X[left], method, cohort, near)
    found = _members(g.face_ids[left], labels)
    first = _next_id(idx, old)
    return {first + k: members for k, members in enumerate(found)}


def _members(face_ids: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """The face ids of each label, label 0 first (the biggest: :func:`cluster.relabel`)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [part.tolist() for part in np.split(face_ids[order], bounds)] if len(labels) else []


def keep_ids(found: list[list[int]], old: dict[int, set[int]], next_id: int) -> list[int]:
    """An id for each group ``found``: the id of an old group when it holds more than half
    of that group's faces still among those clustered (the biggest overlaps first, each old
    id once), else a new one from ``next_id`` on."""
    clustered = {f for members in found for f in members}
    alive = {gid: faces & clustered for gid, faces in old.items()}
    owner = {f: gid for gid, faces in alive.items() for f in faces}
    overlaps = []
    for k, members in enumerate(found):
        for gid, n in Counter(owner[f] for f in members if f in owner).items():
            if 2 * n > len(alive[gid]):
                overlaps.append((n, k, gid))
    ids: list[int | None] = [None] * len(found)
    taken = set()
    for _, k, gid in sorted(overlaps, key=lambda o: (-o[0], o[1], o[2])):
        if ids[k] is None and gid not in taken:
            ids[k] = gid
            taken.add(gid)
    for k in range(len(found)):
        if ids[k] is None:
            ids[k] = next_id
            next_id += 1
    return ids


def stored_groups(idx: Index) -> dict[int, list[int]]:
    """The groups of the last ``cluster`` run: ``group id -> face ids`` (faces re-indexed
    or deleted since are gone from them)."""
    out: dict[int, list[int]] = {}
    if not _has_groups(idx):
        return out
    for gid, fid in idx.db.execute("SELECT group_id, face_id FROM face_groups ORDER BY face_id"):
        out.setdefault(gid, []).append(fid)
    return out


def _has_groups(idx: Index) -> bool:
    """An index older than format 2 that no writer has opened since has no groups yet."""
    found = idx.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'face_groups'").fetchone()
    return found is not None


def _next_id(idx: Index, old: dict[int, list[int]]) -> int:
    """The first group id never used: ids are not given twice, even after a group is gone."""
    row = idx.db.execute("SELECT value FROM meta WHERE key = 'next_group'").fetchone()
    return max(int(row[0]) if row else 1, max(old, default=0) + 1)


def _store(idx: Index, groups: list[Group]) -> None:
    with idx.db:
        idx.db.execute("DELETE FROM face_groups")
        idx.db.executemany(
            "INSERT INTO face_groups(face_id, group_id) VALUES (?, ?)",
            [(f, g.id) for g in groups for f in g.face_ids],
        )
        _reserve(idx, max((g.id for g in groups), default=0) + 1)


def _reserve(idx: Index, first_free: int) -> None:
    """No group id below ``first_free`` is given again (meta ``next_group`` never goes down)."""
    idx.db.execute(
        "INSERT INTO meta(key, value) VALUES ('next_group', ?) ON CONFLICT(key) DO UPDATE "
        "SET value = max(CAST(value AS INTEGER), excluded.value)",
        (str(first_free),),
    )


def listed(idx: Index) -> list[Group]:
    """The stored groups of the last ``cluster`` run, with the merges and move-outs made
    since, biggest first (ties by id): read, not clustered again."""
    found = [Group(gid, faces) for gid, faces in stored_groups(idx).items()]
    return sorted(found, key=lambda g: (-g.size, g.id))


def group_of(idx: Index, face_id: int) -> int:
    """The stored group of a face; IndexFileError where it is in none."""
    row = None
    if _has_groups(idx):
        row = idx.db.execute(
            "SELECT group_id FROM face_groups WHERE face_id = ?", (face_id,)
        ).fetchone()
    if row is None:
        _face_keys(idx, [face_id])  # no such face: said so
        raise IndexFileError(
            f"face {face_id} is in no group (a named face, or one indexed since the last "
            "`lookalike cluster`)"
        )
    return row[0]


def merge_groups(idx: Index, keep: int, other: int) -> list[int]:
    """The faces of group ``other`` join group ``keep`` (one person, split by clustering);
    :func:`undo` takes it back.  Returns the faces moved."""
    if keep == other:
        raise ValueError(f"group {keep} cannot join itself: give two groups")
    with idx.writer():
        group_faces(idx, keep)
        moved = group_faces(idx, other)
        _regroup(idx, moved, keep)
    return moved


def move_out(idx: Index, face_id: int) -> int:
    """The face leaves its group (someone else, clustered with it) for a group of its own,
    with an id never given before; :func:`undo` takes it back.  Returns the new group."""
    with idx.writer():
        group_of(idx, face_id)
        new = _next_id(idx, stored_groups(idx))
        _regroup(idx, [face_id], new)
    return new


def _regroup(idx: Index, face_ids: list[int], group: int) -> None:
    """Put faces of stored groups in ``group`` (its id is never given again), their groups
    before recorded for :func:`undo`."""
    keys = _face_keys(idx, face_ids)
    with idx.db:
        _set_meta_json(idx, "last_naming", {"faces": _before(idx, keys, names=False)})
        idx.db.executemany(
            "UPDATE face_groups SET group_id = ? WHERE face_id = ?", [(group, f) for f in keys]
        )
        _reserve(idx, group + 1)


# -- naming ------------------------------------------------------------------------------
def name_group(idx: Index, group_id: int, name: str, merge: bool = False) -> Naming:
    """Credit every face of a group of the last ``cluster`` run to ``name``."""
    naming = name_faces(idx, group_faces(idx, group_id), name, merge, group_id)
    naming.group = group_id
    return naming


def group_faces(idx: Index, group_id: int) -> list[int]:
    """The faces of a group of the last ``cluster`` run; IndexFileError where there is none
    (named already, or never)."""
    faces = stored_groups(idx).get(group_id)
    if not faces:
        named = _meta_json(idx, "named_groups").get(str(group_id))
        if named:
            raise IndexFileError(
                f"group {group_id} was named {named} (`lookalike name --undo` takes the last "
                "naming back; `lookalike cluster` lists the groups left)"
            )
        raise IndexFileError(
            f"no group {group_id} in {idx.path} (`lookalike cluster` lists the groups)"
        )
    return faces


def someone(idx: Index, name: str) -> tuple[str, int] | None:
    """The person of the index ``name`` is (whatever its case and spaces, as ``match``
    matches names) and how many faces they have; None for a new name."""
    g = idx.gallery()
    known = find_person(g.names, name)
    if known is None:
        return None
    return known, int(np.count_nonzero(g.person == g.names.index(known)))


def name_faces(
    idx: Index, face_ids: list[int], name: str, merge: bool = False, group: int | None = None
) -> Naming:
    """Credit faces to ``name``: a new person, or, with ``merge``, one the index has (then
    these faces and theirs are one person).  The faces leave their groups; their names
    survive re-indexing; :func:`undo` takes it back."""
    with idx.writer():
        return _name_checked(idx, face_ids, name, merge, group)


def _name_checked(
    idx: Index, face_ids: list[int], name: str, merge: bool, group: int | None = None
) -> Naming:
    """:func:`name_faces`, the writer lock held: refused for an empty name, and for one the
    index has without ``merge``."""
    if not name.strip():
        raise ValueError("a name cannot be empty")
    known = someone(idx, name)
    if known and not merge:
        raise ValueError(
            f"{known[0]} is already in the index ({known[1]} faces): --merge adds these "
            "faces to theirs (one person), or give another name"
        )
    named = known[0] if known else name
    return Naming(named, _hand_name(idx, face_ids, named, group), known is not None)


def _hand_name(idx: Index, face_ids: list[int], name: str, group: int | None = None) -> list[int]:
    """Give faces ``name`` by hand (``""``: nobody's) and take them out of their groups, the
    state before recorded for :func:`undo`; ``group`` is remembered as named ``name``."""
    keys = _face_keys(idx, face_ids)
    with idx.db:
        _set_meta_json(idx, "last_naming", {"faces": _before(idx, keys)})
        idx.db.executemany(
            "INSERT OR REPLACE INTO named_faces(sha1, top, right, bottom, left, name) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(*key, name) for key in keys.values()],
        )
        idx.db.execute(
            "DELETE FROM face_groups WHERE face_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        if group is not None:
            named = _meta_json(idx, "named_groups")
            _set_meta_json(idx, "named_groups", named | {str(group): name})
    idx.gallery()  # the search sidecar, up to date now rather than at the next match
    return list(keys)


def rename_person(idx: Index, name: str, new_name: str, merge: bool = False) -> Naming:
    """Name every face of the person ``name`` (whatever its case and spaces) ``new_name`` by
    hand: a new name, one the index has with ``merge`` (as :func:`name_faces`), or the same
    name spelt otherwise.  Photos keep their folder's name: a photo of that folder indexed
    later is credited to the old name.  :func:`undo` takes it back."""
    with idx.writer():
        old, faces = person(idx, name)
        face_ids = [f["face_id"] for f in faces]
        if find_person([old], new_name) is None:
            return _name_checked(idx, face_ids, new_name, merge)
        return Naming(new_name, _hand_name(idx, face_ids, new_name), merged=False)


def take_away(idx: Index, face_ids: list[int]) -> list[int]:
    """Make faces nobody's: taken from whoever a naming or their photo's folder credits them
    to, out of their groups, they are unnamed faces that the next ``cluster`` groups.  Stored
    as a hand name of ``""``, so that re-indexing credits them to no one either;
    :func:`undo` takes it back.  Returns the faces."""
    with idx.writer():
        return _hand_name(idx, face_ids, "")


def undo(idx: Index) -> list[int]:
    """Take back the last change (a naming, a rename, a take-away, a merge or a move-out):
    each of its faces gets the name it had before (none, or one given by hand) and its
    group (a group made by a move-out is gone again).  Returns those faces (none: nothing
    to undo)."""
    with idx.writer():
        last = _meta_json(idx, "last_naming").get("faces", [])
        with idx.db:
            for face in last:
                key = tuple(face["key"])
                if "name" in face:  # absent: a change of groups only, the names untouched
                    _restore_name(idx, key, face["name"])
                if face["group"] is not None:
                    idx.db.execute(
                        "INSERT OR REPLACE INTO face_groups(face_id, group_id) "
                        "SELECT f.id, ? FROM faces f JOIN photos p ON p.id = f.photo_id WHERE "
                        "p.sha1 = ? AND f.top = ? AND f.right = ? AND f.bottom = ? AND f.left = ?",
                        (face["group"], *key),
                    )
            groups_back = {str(f["group"]) for f in last if f["group"] is not None}
            named = _meta_json(idx, "named_groups")
            _set_meta_json(
                idx, "named_groups", {g: n for g, n in named.items() if g not in groups_back}
            )
            _set_meta_json(idx, "last_naming", {})
        idx.gallery()
    return [face["face_id"] for face in last]


def _restore_name(idx: Index, key: tuple, name: str | None) -> None:
    """A face's name given by hand back as it was (None: it had none)."""
    idx.db.execute(
        "DELETE FROM named_faces WHERE sha1 = ? AND top = ? AND right = ? AND bottom = ? "
        "AND left = ?",
        key,
    )
    if name is not None:
        idx.db.execute(
            "INSERT INTO named_faces(sha1, top, right, bottom, left, name) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*key, name),
        )


def _before(idx: Index, keys: dict[int, tuple], names: bool = True) -> list[dict]:
    """Each face's group and (with ``names``) name given by hand, as they are before a
    change.  A change of groups only records no name: its undo then leaves the names alone,
    and the search sidecar stays current."""
    out = []
    for face_id, key in keys.items():
        group = idx.db.execute(
            "SELECT group_id FROM face_groups WHERE face_id = ?", (face_id,)
        ).fetchone()
        face = {"face_id": face_id, "key": list(key), "group": group[0] if group else None}
        if names:
            name = idx.db.execute(
                "SELECT name FROM named_faces WHERE sha1 = ? AND top = ? AND right = ? "
                "AND bottom = ? AND left = ?",
                key,
            ).fetchone()
            face["name"] = name[0] if name else None
        out.append(face)
    return out


def _meta_json(idx: Index, key: str) -> dict:
    row = idx.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else {}


def _set_meta_json(idx: Index, key: str, value: dict) -> None:
    idx.db.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
    )


def forget_names(idx: Index, face_ids: list[int]) -> list[int]:
    """Take back the names given by hand to these faces: each is again what its photo
    says (unnamed, a bystander, or its folder's person).  Returns the faces that had one."""
    with idx.writer():
        keys = _face_keys(idx, face_ids)
        with idx.db:
            had = [
                f
                for f, key in keys.items()
                if idx.db.execute(
                    "DELETE FROM named_faces WHERE sha1 = ? AND top = ? AND right = ? "
                    "AND bottom = ? AND left = ? RETURNING name",
                    key,
                ).fetchall()
            ]
        idx.gallery()
    return had


def _face_keys(idx: Index, face_ids: list[int]) -> dict[int, tuple]:
    """Each face's ``(photo sha1, top, right, bottom, left)``: what its name is stored by."""
    wanted = [int(f) for f in face_ids]
    rows = idx.db.execute(
        "SELECT f.id, p.sha1, f.top, f.right, f.bottom, f.left FROM faces f JOIN photos p "
        "ON p.id = f.photo_id WHERE f.id IN (SELECT value FROM json_each(?))",
        (json.dumps(wanted),),
    )
    keys = {r[0]: tuple(r[1:]) for r in rows}
    missing = [f for f in wanted if f not in keys]
    if missing:
        raise IndexFileError(
            f"no face {missing[0]} in {idx.path} (`lookalike cluster --json` lists face ids)"
        )
    return {f: keys[f] for f in wanted}


# -- showing -----------------------------------------------------------------------------
def describe(idx: Index, groups: list[Group]) -> list[dict]:
    """Each group as JSON shows it: its id, size, whether it is new, and every face's id,
    photo and box."""
    info = idx.describe_faces(f for g in groups for f in g.face_ids)
    return [
        {
            "group": g.id,
            "size": g.size,
            "new": g.new,
            "faces": [
                {"face_id": f, "photo": info[f]["path"], "box": named_box(info[f]["box"])}
                for f in g.face_ids
            ],
        }
        for g in groups
    ]
