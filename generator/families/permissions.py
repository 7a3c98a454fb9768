"""Permission families: file modes and special bits, ownership, users and groups, audits.

Users and groups that a task needs to exist are created at image build time (`Step.run` with
`groupadd`/`useradd`); modes that the starting state needs are set there too, after the files are
copied in. Tests read the outcome with `os.stat`, `pwd` and `grp`, never the commands used.
"""

from __future__ import annotations

import random
import stat
from collections import Counter

from termforge.generator.draw import (FIRST_NAMES, csv_text, ident, lines_text, phrasing, pick,
                                      py, sh_quote, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step


def _ls(mode: int, *, directory: bool = False) -> str:
    """`ls -l` style string of a mode, e.g. 0o2770 -> 'drwxrws---'."""
    return stat.filemode(mode | (stat.S_IFDIR if directory else stat.S_IFREG))


def _oct(mode: int) -> str:
    return f"{mode:04o}" if mode > 0o777 else f"{mode:03o}"


def _words_of(mode: int) -> str:
    """A plain-English description of the rwx bits of a mode (no special bits)."""
    who = (("owner", 6), ("group", 3), ("others", 0))
    parts = []
    for name, shift in who:
        bits = (mode >> shift) & 7
        perms = [w for w, b in (("read", 4), ("write", 2), ("execute", 1)) if bits & b]
        parts.append(f"{name}: {'/'.join(perms) if perms else 'nothing'}")
    return "; ".join(parts)


def _content(rng: random.Random) -> str:
    return lines_text(f"{w} = {rng.randint(1, 9999)}" for w in words(rng, rng.randint(1, 4)))


def _one(cmds: list[str]) -> list[str]:
    """Build-time commands as a single RUN layer."""
    return [" && \\\n    ".join(cmds)] if cmds else []


def _users(rng: random.Random, k: int) -> list[str]:
    return rng.sample(FIRST_NAMES, k)


# --------------------------------------------------------------------------------------------
# permissions.fix-modes
# --------------------------------------------------------------------------------------------

@family("permissions.fix-modes", category="permissions", skills=("permissions.chmod",),
        difficulty="easy", consumes="tree")
def fix_modes(rng: random.Random, inp: Artifact | None) -> Step:
    files: dict[str, str] = {}
    run: list[str] = []
    if inp is None:
        root = f"/srv/{ident(rng, 1)}-{pick(rng, ('app', 'site', 'deploy', 'release'))}"
        rels: list[str] = []
        for d in ("bin", "conf", "data", pick(rng, ("lib", "share", "static"))):
            for _ in range(rng.randint(1, 3)):
                ext = {"bin": "sh", "conf": pick(rng, ("conf", "ini", "key")),
                       "data": pick(rng, ("csv", "txt", "db"))}.get(d, pick(rng, ("txt", "sh", "json")))
                sep = " " if rng.random() < 0.2 else pick(rng, ("_", "-"))
                rels.append(f"{d}/{ident(rng, 2, sep)}.{ext}")
        if rng.random() < 0.5:
            rels.append(f"data/archive/{ident(rng, 1)}.txt")
        rels = sorted(set(rels))
        for r in rels:
            files[f"{root}/{r}"] = _content(rng)
        # a messy starting state: everything open to everyone, a few files locked down
        run.append(f"chmod -R 0777 {sh_quote(root)}")
        for r in rng.sample(rels, min(2, len(rels))):
            run.append(f"chmod 0600 {sh_quote(root + '/' + r)}")
    else:
        root = inp.path.rstrip("/")
        rels = sorted(str(k) for k in inp.value)
    dirs = sorted({"/".join(r.split("/")[:i]) for r in rels for i in range(1, r.count("/") + 1)})
    dmode = pick(rng, (0o750, 0o700, 0o770, 0o711))
    fmode = pick(rng, (0o640, 0o600, 0o660, 0o604, 0o440))
    exts = sorted({r.rsplit(".", 1)[1] for r in rels if "." in r.rsplit("/", 1)[-1]})
    xext = "sh" if "sh" in exts or not exts else pick(rng, exts)
    xmode = pick(rng, (0o750, 0o700, 0o710, 0o755))
    special = pick(rng, rels)
    smode = pick(rng, (0o400, 0o600, 0o444))
    expected = {".": dmode}
    for d in dirs:
        expected[d] = dmode
    for r in rels:
        mode = xmode if r.endswith("." + xext) else fmode
        expected[r] = smode if r == special else mode
    style = rng.randrange(3)
    if style == 0:
        fmt = _oct
    elif style == 1:
        def fmt(m, d=False):
            return f"`{_ls(m, directory=d)}`"
    else:
        def fmt(m, d=False):
            return f"{_oct(m)} ({_words_of(m)})"
    instruction = phrasing(
        rng,
        "The permissions under `{root}` are a mess. Fix them: every directory (including `{root}` "
        "itself) must have mode {d}; every regular file must have mode {f}, except files whose name "
        "ends in `.{x}`, which must have mode {xm}. One file is special: `{root}/{s}` must end up "
        "with mode {sm} (this overrides the other rules). Do not change ownership.",
        "Normalise the file modes of the tree rooted at `{root}`. Directories (the root included): "
        "{d}. Regular files: {f}. Files named `*.{x}`: {xm}. The single file `{root}/{s}` gets {sm} "
        "regardless of the rules above.",
        "Someone ran `chmod -R` with the wrong values on `{root}`. Restore this policy: "
        "directories {d}, ordinary files {f}, `*.{x}` files {xm}, and `{root}/{s}` exactly {sm}. "
        "Apply it to every directory and file in the tree, `{root}` included.",
        root=root, d=fmt(dmode, True) if style == 1 else fmt(dmode), f=fmt(fmode),
        x=xext, xm=fmt(xmode), s=special, sm=fmt(smode),
    )
    q = sh_quote(root)
    solution = (
        f"find {q} -type d -exec chmod {_oct(dmode)} {{}} +\n"
        f"find {q} -type f -exec chmod {_oct(fmode)} {{}} +\n"
        f"find {q} -type f -name '*.{xext}' -exec chmod {_oct(xmode)} {{}} +\n"
        f"chmod {_oct(smode)} {sh_quote(root + '/' + special)}\n"
    )
    tests = f"""
import os
import stat
from pathlib import Path

ROOT = {root!r}
EXPECTED = {py({k: v for k, v in sorted(expected.items())})}


def test_every_path_has_its_mode():
    wrong = {{}}
    for rel, mode in EXPECTED.items():
        p = Path(ROOT) / rel
        got = stat.S_IMODE(os.lstat(p).st_mode)
        if got != mode:
            wrong[rel] = oct(got)
    assert not wrong, f"wrong modes: {{wrong}}"


def test_files_keep_their_content_and_type():
    for rel in EXPECTED:
        p = Path(ROOT) / rel
        assert p.exists() and not p.is_symlink(), rel
"""
    return Step(instruction, solution, tests, files=files, run=_one(run),
                params={"root": root, "dmode": _oct(dmode), "fmode": _oct(fmode), "xext": xext,
                        "xmode": _oct(xmode), "special": special, "smode": _oct(smode),
                        "style": style})


# --------------------------------------------------------------------------------------------
# permissions.special-bits
# --------------------------------------------------------------------------------------------

HELPER_C = r"""#include <stdio.h>
#include <unistd.h>
int main(void) { printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid()); return 0; }
"""


@family("permissions.special-bits", category="permissions",
        skills=("permissions.chmod", "permissions.chown"), difficulty="medium")
def special_bits(rng: random.Random, inp: Artifact | None) -> Step:
    team = pick(rng, ("devs", "ops", "analytics", "design", "qa", "research", "infra"))
    base = f"/srv/{team}"
    shared = f"{base}/{pick(rng, ('shared', 'common', 'workspace', 'project'))}"
    drop = f"{base}/{pick(rng, ('dropbox', 'uploads', 'inbox', 'incoming'))}"
    helper = f"{base}/bin/{pick(rng, ('whoami-helper', 'rotate-keys', 'mount-share', 'flush-cache'))}"
    legacy = f"{base}/bin/{pick(rng, ('old-report', 'legacy-sync', 'backup-v1'))}"
    note = pick(rng, ("README", "NOTES.txt", "index.md", "WELCOME"))
    gid = rng.randint(1500, 2900)
    members = _users(rng, 2)
    shared_mode = pick(rng, (0o2770, 0o2775, 0o2750))
    drop_mode = pick(rng, (0o1777, 0o1733, 0o1773))
    helper_mode = pick(rng, (0o4755, 0o4750, 0o4711))
    legacy_start = pick(rng, (0o2755, 0o6755))
    legacy_mode = legacy_start & 0o777
    run = [f"groupadd -g {gid} {team}"]
    for u in members:
        run.append(f"useradd -m -G {team} {u}")
    run += [
        f"mkdir -p {shared} {drop} {base}/bin",
        f"gcc -O2 -o {helper} /tmp/helper.c && cp {helper} {legacy} && rm /tmp/helper.c",
        f"chmod 0755 {shared} {drop} {helper} && chmod {_oct(legacy_start)} {legacy}",
    ]
    shared_desc = {
        0o2770: "owner and group can read, write and enter it, others have no access at all",
        0o2775: "owner and group can read, write and enter it, others may only read and enter it",
        0o2750: "the owner has full access, the group may read and enter it, others have no access",
    }[shared_mode]
    drop_desc = {
        0o1777: "everybody may list it and create files in it",
        0o1733: "everybody may create files in it but only the owner may list its contents",
        0o1773: "owner and group have full access, others may create files but not list it",
    }[drop_mode]
    helper_desc = {
        0o4755: "everybody may read and run it",
        0o4750: "the group's members may read and run it; others have no access at all",
        0o4711: "everybody may run it, but nobody except the owner may read it",
    }[helper_mode]
    if rng.random() < 0.5:
        instruction = phrasing(
            rng,
            "Set up the team area of group `{team}` under `{base}` (the group and its members "
            "already exist):\n\n"
            "- `{shared}` must belong to group `{team}` (owner root) and have mode `{sm}`, so that "
            "files created in it inherit the group.\n"
            "- `{drop}` must have mode `{dm}` (sticky: users cannot delete each other's files).\n"
            "- The program `{helper}` must be owned by root, group `{team}`, with mode `{hm}` "
            "(it runs with the owner's privileges).\n"
            "- The old program `{legacy}` must lose its setuid/setgid bits; keep its other bits.\n"
            "- Finally create the file `{shared}/{note}` (any content) as root; it must end up in "
            "group `{team}` because of the directory's setgid bit.",
            "Configure `{base}` for the `{team}` team. Required end state: `{shared}` is "
            "root:{team} with mode {sm}; `{drop}` has mode {dm}; `{helper}` is root:{team} with "
            "mode {hm}; `{legacy}` has no setuid or setgid bit left (other permission bits "
            "unchanged); and a new file `{shared}/{note}` exists whose group is `{team}`, "
            "inherited from the directory.",
            "Fix the special permission bits under `{base}`. `{shared}`: owner root, group "
            "`{team}`, mode {sm}. `{drop}`: mode {dm}. `{helper}`: owner root, group `{team}`, mode "
            "{hm}. `{legacy}`: remove setuid and setgid, leave the rest alone. Then create "
            "`{shared}/{note}` as root (content of your choice); its group must be `{team}`.",
            team=team, base=base, shared=shared, drop=drop, helper=helper, legacy=legacy,
            note=note, sm=_oct(shared_mode), dm=_oct(drop_mode), hm=_oct(helper_mode),
        )
        style = "octal"
    else:
        instruction = phrasing(
            rng,
            "The `{team}` team (group `{team}`, already created) needs its area under `{base}` set "
            "up with the right special bits. The requirements are given in words; work out the modes:\n\n"
            "- `{shared}`: owned by root and group `{team}`; {sd}; files and directories created "
            "inside must automatically get group `{team}`.\n"
            "- `{drop}`: {dd}; only a file's owner (or the directory owner) may delete or rename "
            "it.\n"
            "- `{helper}`: owned by root and group `{team}`; {hd}; it must always run with the "
            "privileges of its owner (root), not of the caller. Owner may read, write and run it.\n"
            "- `{legacy}`: it must no longer run with elevated user or group privileges; do not "
            "change its other permission bits.\n"
            "- Create `{shared}/{note}` as root (any content); its group must be `{team}`.",
            "Harden and share `{base}` for group `{team}`. Requirements: (1) `{shared}` is owned by "
            "root:{team}, {sd}, and new entries inherit group `{team}`. (2) In `{drop}` {dd}, and "
            "users must not be able to delete other users' files. (3) `{helper}` is root:{team}, "
            "{hd}, and is set-user-ID so it runs as root; its owner keeps read/write/execute. "
            "(4) `{legacy}` loses any set-user-ID or set-group-ID bit, other bits unchanged. "
            "(5) A file `{shared}/{note}` created by root exists and belongs to group `{team}`.",
            team=team, base=base, shared=shared, drop=drop, helper=helper, legacy=legacy,
            note=note, sd=shared_desc, dd=drop_desc, hd=helper_desc,
        )
        style = "words"
    solution = (
        f"chown root:{team} {shared} {helper}\n"
        f"chmod {_oct(shared_mode)} {shared}\n"
        f"chmod {_oct(drop_mode)} {drop}\n"
        f"chmod {_oct(helper_mode)} {helper}\n"
        f"chmod ug-s {legacy}\n"
        f"echo 'shared area of {team}' > {shared}/{note}\n"
    )
    tests = f"""
import grp
import os
import pwd
import stat

GID = {gid}


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_shared_dir():
    st = os.stat({shared!r})
    assert st.st_uid == 0 and st.st_gid == GID
    assert mode({shared!r}) == {shared_mode:#o}


def test_dropbox_is_sticky():
    assert mode({drop!r}) == {drop_mode:#o}


def test_helper_setuid():
    st = os.stat({helper!r})
    assert st.st_uid == 0 and st.st_gid == GID
    assert mode({helper!r}) == {helper_mode:#o}


def test_legacy_lost_special_bits():
    assert mode({legacy!r}) == {legacy_mode:#o}


def test_new_file_inherits_group():
    st = os.stat({shared + '/' + note!r})
    assert grp.getgrgid(st.st_gid).gr_name == {team!r}


def test_members_untouched():
    for u in {members!r}:
        assert u in grp.getgrnam({team!r}).gr_mem
        pwd.getpwnam(u)
"""
    return Step(instruction, solution, tests, files={"/tmp/helper.c": HELPER_C}, run=_one(run),
                params={"team": team, "shared_mode": _oct(shared_mode), "drop_mode": _oct(drop_mode),
                        "helper_mode": _oct(helper_mode), "legacy_start": _oct(legacy_start),
                        "style": style})


# --------------------------------------------------------------------------------------------
# permissions.users-groups
# --------------------------------------------------------------------------------------------

@family("permissions.users-groups", category="permissions", skills=("permissions.users",),
        difficulty="medium")
def users_groups(rng: random.Random, inp: Artifact | None) -> Step:
    names = _users(rng, 6)
    existing, remove_from = names[0], names[1]
    new_users = names[2:4]
    service = f"svc-{pick(rng, ('backup', 'metrics', 'mailer', 'indexer', 'scheduler'))}"
    team, old_group = rng.sample(["builders", "auditors", "webteam", "dbadmins", "oncall", "finance",
                                  "support"], 2)
    gid = rng.randint(3000, 3999)
    uids = sorted(rng.sample(range(4001, 4999), 2))
    shell = pick(rng, ("/bin/bash", "/bin/sh"))
    run = [
        f"groupadd {old_group}",
        f"useradd -m -s /bin/bash {existing}",
        f"useradd -m -s /bin/bash -G {old_group} {remove_from}",
        f"usermod -aG {old_group} {existing}",
    ]
    users_text = "\n".join(
        f"- `{u}`: UID {uid}, home directory `/home/{u}` (created, owned by `{u}`), login shell "
        f"`{shell}`, primary group `{u}`, also a member of `{team}`."
        for u, uid in zip(new_users, uids))
    instruction = phrasing(
        rng,
        "Set up accounts on this machine.\n\n"
        "- Create group `{team}` with GID {gid}.\n{users}\n"
        "- The existing user `{existing}` must also join `{team}` without losing their other "
        "groups (they are in `{old}`).\n"
        "- Create a system account `{service}`: no home directory, login shell "
        "`/usr/sbin/nologin`, UID below 1000, member of `{team}`.\n"
        "- Remove `{removed}` from group `{old}` (keep the account).",
        "A new team is starting. Create the group `{team}` (GID {gid}) and these users:\n\n{users}\n"
        "\nAlso add the system user `{service}` (a UID under 1000, no home directory, shell "
        "`/usr/sbin/nologin`) to `{team}`, add the already existing `{existing}` to `{team}` while "
        "keeping their membership of `{old}`, and take `{removed}` out of `{old}`.",
        "Account administration ticket: (1) group `{team}`, GID {gid}; (2) users:\n\n{users}\n\n"
        "(3) service account `{service}` — system UID (< 1000), no home, `/usr/sbin/nologin`, in "
        "`{team}`; (4) `{existing}` joins `{team}` and stays in `{old}`; (5) `{removed}` leaves "
        "`{old}` but the account stays.",
        team=team, gid=gid, users=users_text, existing=existing, old=old_group, service=service,
        removed=remove_from,
    )
    solution = [f"groupadd -g {gid} {team}"]
    for u, uid in zip(new_users, uids):
        solution.append(f"useradd -m -u {uid} -U -s {shell} -G {team} {u}")
    solution += [
        f"useradd -r -M -s /usr/sbin/nologin -G {team} {service}",
        f"usermod -aG {team} {existing}",
        f"gpasswd -d {remove_from} {old_group}",
    ]
    tests = f"""
import grp
import os
import pwd

TEAM, GID = {team!r}, {gid}
NEW = {py(dict(zip(new_users, uids)))}


def test_group():
    assert grp.getgrnam(TEAM).gr_gid == GID


def test_new_users():
    for name, uid in NEW.items():
        pw = pwd.getpwnam(name)
        assert pw.pw_uid == uid
        assert pw.pw_shell == {shell!r}
        assert pw.pw_dir == f"/home/{{name}}"
        st = os.stat(pw.pw_dir)
        assert st.st_uid == uid
        assert grp.getgrgid(pw.pw_gid).gr_name == name
        assert name in grp.getgrnam(TEAM).gr_mem


def test_service_account():
    pw = pwd.getpwnam({service!r})
    assert pw.pw_uid < 1000
    assert pw.pw_shell == "/usr/sbin/nologin"
    assert not os.path.exists(f"/home/{service}")
    assert not os.path.isdir(pw.pw_dir) or pw.pw_dir in ("/", "/nonexistent")
    assert {service!r} in grp.getgrnam(TEAM).gr_mem


def test_existing_user_kept_groups():
    assert {existing!r} in grp.getgrnam(TEAM).gr_mem
    assert {existing!r} in grp.getgrnam({old_group!r}).gr_mem


def test_removed_membership():
    assert {remove_from!r} not in grp.getgrnam({old_group!r}).gr_mem
    pwd.getpwnam({remove_from!r})
"""
    return Step(instruction, "\n".join(solution) + "\n", tests, run=_one(run),
                params={"team": team, "gid": gid, "new": new_users, "uids": uids,
                        "service": service, "existing": existing, "removed": remove_from})


# --------------------------------------------------------------------------------------------
# permissions.chown-tree
# --------------------------------------------------------------------------------------------

@family("permissions.chown-tree", category="permissions",
        skills=("permissions.chown", "permissions.users"), difficulty="medium")
def chown_tree(rng: random.Random, inp: Artifact | None) -> Step:
    root = f"/srv/{pick(rng, ('projects', 'sites', 'repos', 'shares'))}"
    owners = _users(rng, 3)
    groups = rng.sample(["web", "data", "mobile", "infra", "legal", "sales", "hr"], 2)
    projects = words(rng, rng.randint(3, 4))
    if rng.random() < 0.4:
        projects[0] = f"{projects[0]} archive"
    files: dict[str, str] = {}
    rels: list[str] = []
    for p in projects:
        for r in ("README.md", f"src/{ident(rng, 1)}.py", f"docs/{ident(rng, 1)}.txt"):
            if rng.random() < 0.85 or r == "README.md":
                rels.append(f"{p}/{r}")
    for r in rels:
        files[f"{root}/{r}"] = _content(rng)
    shared_target = f"/srv/shared-{ident(rng, 1)}.conf"
    files[shared_target] = _content(rng)
    link_proj = projects[-1]
    run = [f"groupadd {g}" for g in groups]
    run += [f"useradd -M {u}" for u in owners]
    run.append(f"ln -s {shared_target} {sh_quote(root + '/' + link_proj + '/latest.conf')}")
    # rows: each project gets an owner and a group; one project's docs go to another owner
    rows = []
    assign = {}
    for p in projects:
        o, g = pick(rng, owners), pick(rng, groups)
        assign[p] = (o, g)
        rows.append([p, o, g])
    override_proj = pick(rng, [p for p in projects if any(r.startswith(p + "/docs/") for r in rels)]
                         or projects)
    over_owner = pick(rng, [o for o in owners if o != assign[override_proj][0]])
    has_docs = any(r.startswith(override_proj + "/docs/") for r in rels)
    if has_docs:
        rows.append([f"{override_proj}/docs", over_owner, assign[override_proj][1]])
    csv_path = f"/app/{pick(rng, ('ownership', 'owners', 'acl-plan'))}.csv"
    files[csv_path] = csv_text(["path", "owner", "group"], rows)
    expected: dict[str, list[str]] = {}
    for p in projects:
        o, g = assign[p]
        expected[p] = [o, g]
        for r in rels:
            if r.startswith(p + "/"):
                parts = r.split("/")
                for i in range(2, len(parts) + 1):
                    expected["/".join(parts[:i])] = [o, g]
    if has_docs:
        for k in list(expected):
            if k == f"{override_proj}/docs" or k.startswith(f"{override_proj}/docs/"):
                expected[k] = [over_owner, assign[override_proj][1]]
    instruction = phrasing(
        rng,
        "The file `{csv}` lists, one row per path relative to `{root}`, which user and group must "
        "own that path and everything below it (columns `path,owner,group`). Apply it: each listed "
        "directory and all its contents must get that owner and group. A row for a deeper path "
        "overrides the row of its parent. The users and groups already exist. Do not follow "
        "symbolic links: targets outside `{root}` must keep their ownership.",
        "Hand the project directories under `{root}` to their owners as described in `{csv}` "
        "(`path,owner,group`, paths relative to `{root}`; ownership applies recursively; more "
        "specific rows win over their parent's). Symlinks inside the tree must not cause files "
        "outside `{root}` to change owner.",
        "Ownership under `{root}` is wrong: everything belongs to root. Use `{csv}` (header "
        "`path,owner,group`, paths relative to `{root}`) to fix it recursively for each listed "
        "path; when a path and one of "
        "its subdirectories are both listed, the subdirectory's row applies to it. Leave anything "
        "outside `{root}` (including symlink targets) untouched.",
        csv=csv_path, root=root,
    )
    solution = (
        f"cd {root}\n"
        f"tail -n +2 {csv_path} | while IFS=, read -r path owner group; do\n"
        f"  chown -R -h \"$owner:$group\" \"$path\"\n"
        f"done\n"
    )
    if rng.random() < 0.5:
        solution = (
            "python3 - <<'EOF'\n"
            "import csv, grp, os, pwd\n"
            f"root = {root!r}\n"
            f"with open({csv_path!r}, newline='') as f:\n"
            "    rows = list(csv.DictReader(f))\n"
            "for row in sorted(rows, key=lambda r: r['path'].count('/')):\n"
            "    uid, gid = pwd.getpwnam(row['owner']).pw_uid, grp.getgrnam(row['group']).gr_gid\n"
            "    for d, dirs, fs in os.walk(os.path.join(root, row['path'])):\n"
            "        for name in [d] + [os.path.join(d, x) for x in dirs + fs]:\n"
            "            os.chown(name, uid, gid, follow_symlinks=False)\n"
            "EOF\n"
        )
    tests = f"""
import grp
import os
import pwd

ROOT = {root!r}
EXPECTED = {py(dict(sorted(expected.items())))}


def owner_of(p):
    st = os.lstat(p)
    return [pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name]


def test_ownership():
    wrong = {{rel: owner_of(os.path.join(ROOT, rel)) for rel in EXPECTED
              if owner_of(os.path.join(ROOT, rel)) != EXPECTED[rel]}}
    assert not wrong, wrong


def test_symlink_target_untouched():
    st = os.stat({shared_target!r})
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert os.path.islink({root + '/' + link_proj + '/latest.conf'!r})
"""
    return Step(instruction, solution, tests, files=files, run=_one(run),
                params={"root": root, "csv": csv_path, "projects": projects, "override": has_docs})


# --------------------------------------------------------------------------------------------
# permissions.audit-world-writable
# --------------------------------------------------------------------------------------------

@family("permissions.audit-world-writable", category="permissions",
        skills=("permissions.audit", "permissions.chmod"), difficulty="medium", produces="lines")
def audit_world_writable(rng: random.Random, inp: Artifact | None) -> Step:
    root = f"/opt/{ident(rng, 1)}"
    report = f"/app/{pick(rng, ('world-writable.txt', 'ww-report.txt', 'audit.txt'))}"
    files: dict[str, str] = {}
    modes: dict[str, int] = {}
    dirs = ["etc", "lib", "var", f"var/{pick(rng, ('cache', 'spool', 'state'))}", "share/doc"]
    for d in dirs:
        modes[d] = pick(rng, (0o755, 0o755, 0o750, 0o777, 0o775))
    for _ in range(rng.randint(7, 11)):
        d = pick(rng, dirs)
        sep = " " if rng.random() < 0.15 else pick(rng, ("_", "-", "."))
        rel = f"{d}/{ident(rng, 2, sep)}{pick(rng, ('', '.conf', '.so', '.txt', '.sh'))}"
        if rel in modes:
            continue
        modes[rel] = pick(rng, (0o644, 0o644, 0o600, 0o755, 0o666, 0o777, 0o646, 0o602, 0o664))
        files[f"{root}/{rel}"] = _content(rng)
    # guarantee at least two offenders and one clean file
    rel_files = [r for r in modes if f"{root}/{r}" in files]
    modes[rel_files[0]] = pick(rng, (0o666, 0o646, 0o777))
    modes[rel_files[-1]] = 0o644
    sticky = f"var/{pick(rng, ('tmp', 'scratch', 'upload-tmp'))}"
    modes[sticky] = 0o1777
    link = f"lib/{pick(rng, ('current', 'latest', 'default'))}"
    run = [f"mkdir -p {' '.join(sh_quote(root + '/' + d) for d in dirs + [sticky])}"]
    # a symlink to an offender: it looks like 777 but is not itself a finding
    run.append(f"ln -s {sh_quote(root + '/' + rel_files[0])} {sh_quote(root + '/' + link)}")
    for rel in sorted(modes, key=lambda r: (-r.count("/"), r)):
        run.append(f"chmod {modes[rel]:o} {sh_quote(root + '/' + rel)}")
    offenders = sorted(f"{root}/{r}" for r, m in modes.items() if m & 0o002 and not m & 0o1000)
    offenders = sorted(offenders, key=lambda s: s.encode())
    fixed = {r: (m & ~0o002 if m & 0o002 and not m & 0o1000 else m) for r, m in modes.items()}
    instruction = phrasing(
        rng,
        "Audit `{root}` for world-writable entries. Write the absolute paths of all regular files "
        "and directories under `{root}` that others can write to — but not symbolic links and not "
        "directories with the sticky bit set — to `{report}`, one per line, sorted in byte order "
        "(`LC_ALL=C sort`). Then remove only the write permission for others from exactly those "
        "paths; every other permission bit must stay as it is.",
        "Security review of `{root}`: list every file or directory below it that is writable by "
        "\"others\" into `{report}` (absolute paths, one per line, `LC_ALL=C` sorted). Ignore "
        "symlinks (they always look like 777) and sticky directories such as shared temp "
        "directories, which are meant to be world-writable. Afterwards fix the listed paths with "
        "`o-w` and nothing else.",
        "Find the world-writable regular files and directories in `{root}` (symbolic links and "
        "sticky-bit directories do not count), save their absolute paths to `{report}` sorted "
        "bytewise, one per line, and then make them not world-writable by clearing only the "
        "others-write bit.",
        root=root, report=report,
    )
    solution = (
        f"find {root} \\( -type f -o -type d \\) -perm -0002 ! -perm -1000 | LC_ALL=C sort > {report}\n"
        f"while IFS= read -r p; do chmod o-w \"$p\"; done < {report}\n"
    )
    tests = f"""
import os
import stat

ROOT = {root!r}
EXPECTED = {py(offenders)}
MODES = {py(dict(sorted(fixed.items())))}


def test_report():
    with open({report!r}, encoding="utf-8") as f:
        got = [ln.rstrip("\\n") for ln in f if ln.strip()]
    assert got == EXPECTED


def test_modes_fixed_and_others_untouched():
    wrong = {{}}
    for rel, mode in MODES.items():
        got = stat.S_IMODE(os.lstat(os.path.join(ROOT, rel)).st_mode)
        if got != mode:
            wrong[rel] = oct(got)
    assert not wrong, wrong


def test_symlink_still_there():
    assert os.path.islink({root + '/' + link!r})
"""
    return Step(instruction, solution, tests, files=files, run=_one(run),
                output=Artifact(report, "lines", offenders),
                params={"root": root, "report": report, "n_offenders": len(offenders)})


# --------------------------------------------------------------------------------------------
# permissions.audit-setuid
# --------------------------------------------------------------------------------------------

@family("permissions.audit-setuid", category="permissions",
        skills=("permissions.audit", "permissions.chmod"), difficulty="hard", produces="csv")
def audit_setuid(rng: random.Random, inp: Artifact | None) -> Step:
    vendor = ident(rng, 1)
    root = f"/opt/{vendor}"
    owners = _users(rng, 2)
    group = pick(rng, ("opsadm", "operators", "wheel2", "tapeops", "backupops"))
    allow_path = f"/etc/{vendor}/suid-allowlist"
    out = f"/app/{pick(rng, ('suid-report.csv', 'special-bits.csv', 'setuid-audit.csv'))}"
    dirs = ["bin", "sbin", "libexec", f"libexec/{pick(rng, ('plugins', 'helpers'))}"]
    entries = []  # (rel, mode, owner, group)
    names = set()
    for _ in range(rng.randint(8, 12)):
        name = f"{pick(rng, dirs)}/{vendor[:3]}-{ident(rng, 1)}"
        if name in names:
            continue
        names.add(name)
        mode = pick(rng, (0o755, 0o755, 0o750, 0o4755, 0o2755, 0o6755, 0o4750, 0o2711, 0o644))
        owner = pick(rng, ["root", "root"] + owners)
        grp_ = pick(rng, ["root", group, owner if owner != "root" else "root"])
        entries.append([name, mode, owner, grp_])
    entries[0][1], entries[1][1] = 0o4755, 0o2755
    entries[-1][1] = 0o755
    special = [e for e in entries if e[1] & 0o6000]
    allowed = sorted(rng.sample([e[0] for e in special], max(1, len(special) // 2)))
    files = {f"{root}/{e[0]}": "#!/bin/sh\necho ok\n" for e in entries}
    files[allow_path] = lines_text(["# programs that may keep setuid/setgid bits"]
                                   + [f"{root}/{a}" for a in allowed])
    run = [f"groupadd {group}"] + [f"useradd -M {u}" for u in owners]
    for rel, mode, o, g in entries:
        run.append(f"chown {o}:{g} {root}/{rel} && chmod {mode:o} {root}/{rel}")
    # a setuid file outside the scope, which must not be reported
    run.append(f"cp /bin/true /usr/local/bin/{vendor}-outside && chmod 4755 /usr/local/bin/{vendor}-outside")

    def kind(m):
        return "both" if m & 0o6000 == 0o6000 else "setuid" if m & 0o4000 else "setgid"

    rows = sorted(([f"{root}/{rel}", f"{mode:04o}", o, g, kind(mode)]
                   for rel, mode, o, g in special), key=lambda r: r[0])
    final = {rel: (mode if rel in allowed else mode & 0o777) for rel, mode, _, _ in entries}
    instruction = phrasing(
        rng,
        "Audit `{root}` for set-user-ID and set-group-ID programs. Write a CSV report to `{out}` "
        "with header `path,mode,owner,group,kind` and one row per regular file under `{root}` that "
        "has the setuid or setgid bit: absolute path, the 4-digit octal mode as it was before you "
        "changed anything (e.g. `4755`), owner name, group name, and kind `setuid`, `setgid` or "
        "`both`; rows sorted by path. Then remove the setuid and setgid bits from every such file "
        "that is NOT listed in `{allow}` (one absolute path per line, `#` comments), keeping all "
        "other permission bits. Files in the allowlist keep their mode.",
        "Find every setuid/setgid regular file below `{root}`. Record them in `{out}` as CSV with "
        "the columns `path,mode,owner,group,kind` (path absolute; mode as 4 octal digits taken "
        "before any fix; kind is `setuid`, `setgid` or `both`), sorted by path. The allowlist "
        "`{allow}` names the programs that may keep their special bits; strip setuid and setgid "
        "from all others without touching their remaining bits.",
        "Privilege audit: produce `{out}` (CSV, header `path,mode,owner,group,kind`, one row per "
        "setuid or setgid file under `{root}`, ordered by absolute path, mode in 4-digit octal "
        "such as `2755` as found, kind one of `setuid`/`setgid`/`both`). Then clear the special "
        "bits (`u-s`, `g-s`) on every reported file that is not listed in `{allow}`.",
        root=root, out=out, allow=allow_path,
    )
    solution = (
        f"{{ echo 'path,mode,owner,group,kind'\n"
        f"  find {root} -type f -perm /6000 -printf '%p,%#m,%u,%g\\n' | LC_ALL=C sort | "
        f"awk -F, -v OFS=, '{{m=$2; sub(/^0/, \"\", m); k = (substr(m,1,1)==\"6\") ? \"both\" : "
        f"(substr(m,1,1)==\"4\") ? \"setuid\" : \"setgid\"; print $1, m, $3, $4, k}}'\n"
        f"}} > {out}\n"
        f"find {root} -type f -perm /6000 | while IFS= read -r f; do\n"
        f"  grep -qxF \"$f\" {allow_path} || chmod ug-s \"$f\"\n"
        f"done\n"
    )
    tests = f"""
import csv
import os
import stat

ROOT = {root!r}
ROWS = {py(rows)}
FINAL = {py({k: v for k, v in sorted(final.items())})}


def test_report():
    with open({out!r}, newline="") as f:
        got = list(csv.reader(f))
    assert got[0] == ["path", "mode", "owner", "group", "kind"]
    assert [r for r in got[1:] if r] == ROWS


def test_bits_stripped_outside_allowlist():
    wrong = {{}}
    for rel, mode in FINAL.items():
        got = stat.S_IMODE(os.stat(os.path.join(ROOT, rel)).st_mode)
        if got != mode:
            wrong[rel] = oct(got)
    assert not wrong, wrong


def test_outside_scope_untouched():
    assert stat.S_IMODE(os.stat("/usr/local/bin/{vendor}-outside").st_mode) == 0o4755
"""
    return Step(instruction, solution, tests, files=files, run=_one(run),
                output=Artifact(out, "csv", {"header": ["path", "mode", "owner", "group", "kind"],
                                              "rows": rows}),
                params={"root": root, "allowed": allowed, "n_special": len(special)})
