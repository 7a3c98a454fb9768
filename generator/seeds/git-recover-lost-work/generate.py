"""A repository after a bad `reset --hard`, a deleted branch and a forgotten stash."""
import json


def w(path, text):
    return f"mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'REPO_EOF'\n{text}REPO_EOF"


def generate(rng):
    limit = rng.choice([30, 60, 100, 120])
    feature = rng.choice([("rate limiting", "ratelimit.py"), ("request tracing", "tracing.py"),
                          ("audit logging", "audit.py")])
    lost_subjects = [f"Add {feature[0]}", f"Document {feature[0]}"]
    branch_subject = rng.choice(["Try response caching", "Experiment with an LRU cache",
                                 "Cache note lookups"])
    base_subjects = ["Initial notes API", "Add note search", "Validate note titles",
                     "Return 404 for missing notes"][:rng.randint(2, 4)]
    s = ["#!/bin/bash", "set -euo pipefail", "mkdir -p /app/notes-api && cd /app/notes-api",
         "git init -q -b main .", "git config user.name 'Sam Dev'", "git config user.email sam@example.com"]
    dates = {}
    n = [0]

    def commit(subject):
        n[0] += 1
        stamp = f"2024-02-{n[0]:02d}T1{n[0] % 10}:00:00+00:00"
        dates[subject] = stamp
        s.append(f"git add -A && GIT_AUTHOR_DATE='{stamp}' GIT_COMMITTER_DATE='{stamp}' git commit -q -m '{subject}'")

    readme = "# notes-api\n\nA tiny notes service.\n"
    s.append(w("README.md", readme))
    s.append(w("app.py", "NOTES = {}\n\n\ndef get(note_id):\n    return NOTES.get(note_id)\n"))
    commit(base_subjects[0])
    for i, subj in enumerate(base_subjects[1:], 1):
        s.append(w(f"handlers/h{i}.py", f"# {subj}\n"))
        commit(subj)
    s.append("git branch experiment/cache")
    s.append(w(feature[1], f"LIMIT = {limit}\n\n\ndef allowed(count):\n    return count < LIMIT\n"))
    commit(lost_subjects[0])
    s.append(w("README.md", readme + f"\n## {feature[0].title()}\n\nLimit: {limit} per minute.\n"))
    commit(lost_subjects[1])
    s.append("git checkout -q experiment/cache")
    s.append(w("cache.py", "CACHE = {}\n"))
    commit(branch_subject)
    s.append("git checkout -q main")
    stash_value = rng.choice(["staging-db.internal", "pg-staging.lan", "10.9.8.7"])
    s.append(w("config/staging.ini", f"[database]\nhost = {stash_value}\n"))
    s.append("git add config/staging.ini")
    s.append("GIT_AUTHOR_DATE='2024-02-20T10:00:00+00:00' GIT_COMMITTER_DATE='2024-02-20T10:00:00+00:00' "
             "git stash push -q -m 'staging config'")
    s.append("git reset -q --hard HEAD~2")
    s.append("git branch -q -D experiment/cache")
    return {
        "environment/rootfs/tmp/build/make_repo.sh": "\n".join(s) + "\n",
        "tests/expected.json": json.dumps({
            "lost": lost_subjects, "branch_subject": branch_subject, "base_tip": base_subjects[-1],
            "dates": dates, "stash_file": "config/staging.ini",
            "stash_content": f"[database]\nhost = {stash_value}\n"}, indent=1) + "\n",
    }
