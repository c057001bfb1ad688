"""Import benchmark: 10,000 rows end to end, and 100,000 rows in one file through the import job.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_import_bench .venv/bin/python bench/imports.py
        [--samples 5] [--big-samples N] [--kinds cli,update,web,web-update,big] [--existing 100000]
        [--against DIR] [--json FILE]

Kinds of sample, each in a process of its own (so its peak RSS is its own):
  * cli – `manage.py importusers` of a 10,000-row CSV (French headers, semicolons, BOM, mobiles
    typed the French way, one of 20 groups each);
  * update – `manage.py importusers` of the same roster again, once its 10,000 people exist (imported
    first by the command in a process of its own, untimed, then analysed): each row matches its person
    and changes their first name and language, and adds a second group;
  * web – the same file as cli through the pages: upload (the check runs), the preview page, confirm
    (the file is checked again and written), with Django's test client in-process;
  * web-update – the update through the same pages;
  * big – 100,000 rows in one file through the same pages: the check and the write run as the import
    job's tasks (in-process: no broker), the check recording its progress every 1,000 rows.
Each sample reports its seconds and the peak RSS of its process (`ru_maxrss`), then the imported
people are deleted (untimed) so the next sample imports into the same organisation: `--existing`
people (default 100,000) and 20 groups, made once.

A round runs one sample of each kind in turn (cli, update, web, web-update, big: alternating);
`--samples` rounds, the 100,000-row kind in the first `--big-samples` of them only (default: every
round). `--against DIR` runs every sample twice, alternating (ours, DIR's, ours, DIR's…): the same
script against the code checked out in DIR (another branch, the release before), on the same
database. Results are printed,
and written to bench/results/; `measure()`'s figures to `--json FILE` if given. A sample that
crashes is printed with its error and makes the script exit with status 1, after the others ran.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.database import ensure_database  # noqa: E402
from bench.stats import percentile, summary  # noqa: E402

HERE = Path(__file__).resolve()
ROWS = {"cli": 10_000, "update": 10_000, "web": 10_000, "web-update": 10_000, "big": 100_000}
SLUG = "imports"
ADMIN_EMAIL = "admin@imports.example"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--big-samples", type=int, default=None, help="rounds with a 100,000-row sample")
    parser.add_argument("--json", default="", help="write the figures (a JSON object) to this file")
    parser.add_argument("--kinds", default="cli,update,web,web-update,big")
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--against", default="", help="another checkout to alternate with")
    parser.add_argument("--label", default="")
    kinds = ["setup", "people", "cli", "update", "web", "web-update", "big", "cleanup"]
    parser.add_argument("--once", choices=kinds, help=argparse.SUPPRESS)
    parser.add_argument("--run", default="", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=str(HERE.parent.parent), help=argparse.SUPPRESS)
    return parser.parse_args()


def setup_django(root):
    sys.path.insert(0, root)
    os.chdir(root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if not Path(root, "bench", "settings.py").exists():
        sys.exit(f"{root} has no bench/settings.py")
    import django

    django.setup()


def people_file(rows: int, run: str, *, again: bool = False) -> bytes:
    """`rows` new people (`run` makes their addresses unique); `again`: the same people (the same
    emails, mobiles and numbers), each with another first name, language and group, as a second
    export of the same roster would update them."""
    lines = ["Prénom;Nom;Courriel;Téléphone mobile;Matricule;Groupes;Langue"]
    first, language, shift = ("Anna", "en", 1) if again else ("Anne", "fr", 0)
    for n in range(rows):
        # 07 5x … numbers: valid French mobiles; the existing people have none.
        mobile = f"07 {50 + n // 10_000:02d} {n // 100 % 100:02d} {n % 100:02d} 00"
        lines.append(
            f"{first}{n};Lefèvre-{run};anne.{n}.{run}@import.example;{mobile};M-{run}-{n};"
            f"Groupe {(n + shift) % 20};{language}"
        )
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def once(kind, existing, run):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import ImportJob, Organization, User

    if kind == "setup":
        from accounts.services import organization_create
        from groups.models import UserGroup

        call_command("migrate", verbosity=0)
        if not Organization.objects.filter(slug=SLUG).exists():
            organization_create(name="Imports", slug=SLUG, admin_email=ADMIN_EMAIL, admin_password="bench-admin-pw-1")
            org = Organization.objects.get(slug=SLUG)
            for n in range(20):
                UserGroup.objects.create(organization=org, name=f"Groupe {n}")
            User.objects.bulk_create(
                (
                    User(
                        organization=org,
                        email=f"p{n}@imports.example",
                        last_name=f"P{n}",
                        status="active",
                        password="!",
                    )
                    for n in range(existing)
                ),
                batch_size=5000,
            )
        _vacuum()
        return {}
    org = Organization.objects.get(slug=SLUG)
    if kind == "cleanup":
        # In SQL (Django's cascade collects 100,000 people in Python), then VACUUM ANALYZE: every
        # sample starts from the same tables, with statistics, whether or not autovacuum runs.
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            gone = "SELECT id FROM accounts_user WHERE organization_id = %s AND email LIKE '%%@import.example'"
            cursor.execute("DELETE FROM audit_auditevent WHERE organization_id = %s", [org.pk])
            for table in ("accounts_statuschange", "usergroups_membership"):
                cursor.execute(f"DELETE FROM {table} WHERE user_id IN ({gone})", [org.pk])
            cursor.execute(f"DELETE FROM accounts_user WHERE id IN ({gone})", [org.pk])
            ImportJob.objects.all().delete()
        _vacuum()
        return {}
    if kind == "people":
        # The people an update sample changes, imported by the command in a process of their own
        # (so that the sample's CPU and peak RSS are the update's alone), then analysed as autovacuum
        # would analyse them before long: the update starts from statistics that know them.
        _import_command(people_file(ROWS["update"], run))
        _vacuum()
        return {}
    updating = kind in ("update", "web-update")
    # An update: the same roster again (`run`'s people, imported by the step above), changed.
    data = people_file(ROWS[kind], run, again=updating)
    started = time.perf_counter()
    result = {"kind": kind, "rows": ROWS[kind]}
    if kind in ("cli", "update"):
        _import_command(data)
    else:
        client = Client(HTTP_HOST=f"{SLUG}.localhost")
        client.force_login(User.objects.get(organization=org, email=ADMIN_EMAIL))
        response = client.post("/users/import/", {"file": SimpleUploadedFile("people.csv", data)})
        if response.status_code != 302:
            result["refused"] = True
            result["s"] = round(time.perf_counter() - started, 2)
            return result
        job_page = response["Location"]
        job = ImportJob.objects.get(pk=int(job_page.rstrip("/").split("/")[-1]))
        assert job.state == "ready" and not job.report.get("error"), [r for r in job.report["rows"] if r["errors"]][:2]
        result["check_s"] = round(time.perf_counter() - started, 2)
        assert client.get(job_page).status_code == 200  # the preview
        client.post(f"{job_page}confirm/")
        job.refresh_from_db()
        assert job.state == "done", (job.state, job.error)
        assert job.report["result"]["updated" if updating else "created"] == ROWS[kind]
        result["progress"] = [job.progress, job.total]  # the job's progress counter at the end
    result["s"] = round(time.perf_counter() - started, 2)
    if updating:
        assert User.objects.filter(organization=org, first_name="Anna0", language="en").count() == 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    # The process's own CPU seconds (Django's start included): less sensitive than wall time to a
    # machine others load, though it leaves out PostgreSQL's share.
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    return result


def _import_command(data: bytes) -> None:
    from django.core.management import call_command

    path = Path(f"/tmp/bench-import-{os.getpid()}.csv")
    path.write_bytes(data)
    try:
        call_command("importusers", SLUG, str(path), stdout=open(os.devnull, "w"))  # noqa: SIM115
    finally:
        path.unlink()


def _vacuum():
    from django.db import connection

    with connection.cursor() as cursor:
        tables = ("accounts_user", "accounts_statuschange", "usergroups_membership", "audit_auditevent")
        # The people's words too: deleting the sample's people leaves theirs dead in the table.
        for table in (*tables, "accounts_searchword", "accounts_knownword"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def run_once(root, kind, existing, run=""):
    out = subprocess.run(
        [sys.executable, str(HERE), "--once", kind, "--root", root, "--existing", str(existing), "--run", run],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    if out.returncode:
        print(out.stderr[-4000:], file=sys.stderr, flush=True)
        return {"kind": kind, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    args = parse_args()
    if args.once:
        setup_django(args.root)
        print(json.dumps(once(args.once, args.existing, args.run or str(time.time_ns())[-9:])))
        return
    figures = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if figures["errors"]:
        sys.exit(f"{figures['errors']} import sample(s) crashed (see above)")


def measure(args) -> dict:
    """Run the samples, print them and their table; return the figures: every sample's row, and per
    kind and code the summary of its totals (bench.stats: n, p50, p95…), its median check and CPU
    seconds, its largest peak RSS, whether the file was refused, and the number of crashed samples."""
    ensure_database()
    ours = str(HERE.parent.parent)
    checkouts = [("ours", ours)] + ([("against", str(Path(args.against).resolve()))] if args.against else [])
    setup = run_once(ours, "setup", args.existing)
    if setup.get("error"):
        sys.exit(f"The import benchmark's data could not be made: {setup['error']}")
    print(f"{args.existing} people ready", flush=True)
    big_samples = args.samples if args.big_samples is None else args.big_samples
    rows = []
    for sample in range(max(args.samples, big_samples)):
        for kind in args.kinds.split(","):
            if sample >= (big_samples if kind == "big" else args.samples):
                continue
            for name, root in checkouts:
                run = str(time.time_ns())[-9:]  # the sample's people: their addresses are unique
                prepared = {}
                if kind in ("update", "web-update"):  # the people it updates, untimed
                    prepared = run_once(ours, "people", args.existing, run)
                row = {"code": name, "sample": sample + 1, **run_once(root, kind, args.existing, run)}
                if prepared.get("error"):
                    row.setdefault("error", prepared["error"])
                cleanup = run_once(ours, "cleanup", args.existing)
                if cleanup.get("error"):
                    row.setdefault("error", cleanup["error"])
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{args.samples} samples per cell, {big_samples} of 100,000 rows (each a process of its own, alternating);")
    print("medians, and the total's p95 (nearest rank) and range:")
    print(
        f"{'kind':<11}{'code':<9}{'rows':>8}{'check (s)':>11}{'total (s)':>11}{'p95 (s)':>9}{'min-max (s)':>15}"
        f"{'CPU (s)':>9}{'peak RSS (MB)':>15}"
    )
    for kind in args.kinds.split(","):
        for name, _root in checkouts:
            cell = [row for row in rows if row["kind"] == kind and row["code"] == name and "s" in row]
            if not cell:
                print(f"{kind:<11}{name:<9}  failed: {[row.get('error') for row in rows if row['kind'] == kind][:1]}")
                continue
            if any(row.get("refused") for row in cell):
                print(f"{kind:<11}{name:<9}{ROWS[kind]:>8}  refused (the file is over the row limit)")
                continue

            def median(key, cell=cell):
                values = [row[key] for row in cell if key in row]
                return round(statistics.median(values), 2) if values else ""

            totals = [row["s"] for row in cell]
            spread = f"{min(totals)}–{max(totals)} "
            print(
                f"{kind:<11}{name:<9}{ROWS[kind]:>8}{median('check_s'):>11}{median('s'):>11}"
                f"{percentile(totals, 95):>9}{spread:>15}{median('cpu_s'):>9}{median('peak_rss_mb'):>15}"
            )
    cells = {}
    for kind in args.kinds.split(","):
        for name, _root in checkouts:
            cell = [row for row in rows if row["kind"] == kind and row["code"] == name]
            done = [row for row in cell if "s" in row and not row.get("refused")]

            def median(key, done=done):
                values = [row[key] for row in done if key in row]
                return statistics.median(values) if values else None

            cells[f"{kind}/{name}"] = {
                "kind": kind,
                "code": name,
                "rows": ROWS[kind],
                "samples": len(cell),
                "total_s": summary([row["s"] for row in done]) if done else None,
                "check_s": median("check_s"),
                "cpu_s": median("cpu_s"),
                "peak_rss_mb": max((row["peak_rss_mb"] for row in done), default=None),
                "refused": any(row.get("refused") for row in cell),
                "progress": next((row["progress"] for row in reversed(done) if "progress" in row), None),
                "errors": sum(1 for row in cell if row.get("error")),
            }
    figures = {
        "args": vars(args),
        "rows": rows,
        "cells": cells,
        "errors": sum(1 for row in rows if row.get("error")),
    }
    out = HERE.parent / "results"
    out.mkdir(exist_ok=True)
    name = f"imports-{args.label + '-' if args.label else ''}{time.strftime('%Y%m%d-%H%M%S')}.json"
    (out / name).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
