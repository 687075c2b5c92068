#!/usr/bin/env python3
"""Mutation check: every one-line mutation in tests/mutation/mutations.tsv must be caught.

For each line of the list (format in the list's header: id, file, exact original text,
replacement, the ctest test that must fail [:the Criterion test], description) this
  1. checks the original text occurs exactly once in the file (else it stops before building:
     the list must stay in step with the code),
  2. keeps a copy of the repository's files (git ls-files, uncommitted changes included) in
     SCRATCH/src and a build of it in SCRATCH/build, both reused across mutations and runs,
  3. builds and runs each needed test once unmutated (it must pass),
  4. per mutation: writes the mutated file into the copy, builds only the test's target
     (test_<name>), runs that test with ctest, restores the file,
and fails (exit 1) unless every mutation made its test fail (and, when named, made the named
Criterion test fail). Prints a table (mutation, status, caught by, seconds) on stdout, progress
on stderr, and writes SCRATCH/mutation.json and SCRATCH/mutation.csv (or --out PREFIX).

Usage: python3 tests/mutation/run.py [--dir SCRATCH] [--only ID ...] [--jobs N] [--out PREFIX]
SCRATCH defaults to $O2O_MUTATION_DIR, else /tmp/o2o-mutation-<uid>-<hash of the repo path>.
ctest runs it as test `mutation` (label `mutation`) with SCRATCH in the build folder.
Exit codes: 0 all caught, 1 some mutation not caught, 2 bad list / build / baseline failure.
"""
import argparse
import csv
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIST = os.path.join(ROOT, "tests", "mutation", "mutations.tsv")
FAIL_RE = re.compile(r"\[FAIL\] ([A-Za-z0-9_]+)::([A-Za-z0-9_]+)")


def log(msg):
    print("mutation: " + msg, file=sys.stderr, flush=True)


def die(msg):
    log("ERROR: " + msg)
    sys.exit(2)


def read_list(path):
    muts, ids = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = "%s:%d" % (os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep)
                               else path, n)
            fields = line.split("\t")
            if len(fields) != 6:
                die("%s: %d TAB-separated fields, want 6 (id, file, original, replacement, test, "
                    "description)" % (where, len(fields)))
            mid, file, orig, repl, test, desc = fields
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", mid):
                die("%s: bad id %r (letters, digits, '-', '_', '.')" % (where, mid))
            if mid in ids:
                die("%s: id %s appears twice" % (where, mid))
            ids.add(mid)
            if not orig or orig == repl:
                die("%s: %s: empty original or replacement equal to it" % (where, mid))
            ctest, _, ctest_case = test.partition(":")
            if not re.fullmatch(r"[A-Za-z0-9_]+", ctest) or (
                    ctest_case and not re.fullmatch(r"[A-Za-z0-9_]+", ctest_case)):
                die("%s: %s: test %r is not CTEST[:CRITERION_TEST]" % (where, mid, test))
            src = os.path.join(ROOT, file)
            if not os.path.isfile(src):
                die("%s: %s: no file %s" % (where, mid, file))
            with open(src, encoding="utf-8") as g:
                count = g.read().count(orig)
            if count != 1:
                die("%s: %s: the original text occurs %d times in %s (must be exactly once; "
                    "update the list when the code changes): %r" % (where, mid, count, file, orig))
            muts.append(dict(id=mid, file=file, original=orig, replacement=repl, ctest=ctest,
                             case=ctest_case, description=desc, where=where))
    if not muts:
        die("%s holds no mutation" % path)
    return muts


def write_if_changed(path, data):
    """Write bytes with a fresh mtime when they differ (unchanged files keep their objects)."""
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return True


def sync_tree(src_dir, scratch):
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], capture_output=True)
    if out.returncode:
        die("git ls-files failed in %s (the check copies the files git knows): %s"
            % (ROOT, out.stderr.decode(errors="replace").strip()))
    inside = os.path.relpath(scratch, ROOT) + os.sep  # a scratch folder git does not ignore
    files = [f for f in out.stdout.decode().split("\0") if f and not f.startswith(inside)]
    keep, changed = set(), 0
    for rel in files:
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src) or os.path.islink(src):
            continue
        keep.add(rel)
        with open(src, "rb") as f:
            changed += write_if_changed(os.path.join(src_dir, rel), f.read())
    for dirpath, _, names in os.walk(src_dir):  # files deleted from the repository
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), src_dir)
            if rel not in keep:
                os.remove(os.path.join(dirpath, name))
    log("source copy %s: %d files, %d updated" % (src_dir, len(keep), changed))


def run(cmd, logfile, timeout=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        rc, out = p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", (e.stdout or b"").decode(errors="replace")
    with open(logfile, "w") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), out))
    return rc, out, time.monotonic() - t0


def build(build_dir, target, jobs, logfile):
    rc, out, _ = run(["cmake", "--build", build_dir, "--target", target, "-j", str(jobs)], logfile)
    return rc == 0, out


def run_test(build_dir, name, logfile):
    rc, out, sec = run(["ctest", "--test-dir", build_dir, "-R", "^%s$" % name,
                        "--output-on-failure", "--no-tests=error"], logfile, timeout=1800)
    failed = sorted({m.group(2) for m in FAIL_RE.finditer(out)})
    if rc != 0 and "***Timeout" in out:
        failed.append("(timeout)")
    return rc, failed, sec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_dir = os.environ.get("O2O_MUTATION_DIR") or "/tmp/o2o-mutation-%d-%s" % (
        os.getuid(), hashlib.sha1(ROOT.encode()).hexdigest()[:8])
    ap.add_argument("--dir", default=default_dir, help="scratch folder (copy + build)")
    ap.add_argument("--list", default=LIST, help="mutation list (default tests/mutation/...)")
    ap.add_argument("--only", action="append", default=[], help="run only this id (repeatable)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", help="results prefix (default SCRATCH/mutation)")
    a = ap.parse_args()
    t_start = time.monotonic()
    muts = read_list(os.path.abspath(a.list))
    if a.only:
        unknown = set(a.only) - {m["id"] for m in muts}
        if unknown:
            die("--only: no mutation %s in the list" % ", ".join(sorted(unknown)))
        muts = [m for m in muts if m["id"] in a.only]
    scratch = os.path.abspath(a.dir)
    src_dir, build_dir, logs = (os.path.join(scratch, d) for d in ("src", "build", "logs"))
    os.makedirs(logs, exist_ok=True)
    lock = open(os.path.join(scratch, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        die("another mutation run holds %s" % scratch)
    sync_tree(src_dir, scratch)
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        log("configuring %s (release, tests on)" % build_dir)
        rc, out, _ = run(["cmake", "-S", src_dir, "-B", build_dir,
                          "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], os.path.join(logs, "configure.log"))
        if rc:
            die("cmake configure failed:\n" + out[-3000:])

    # baseline: every needed test builds and passes without a mutation
    t0 = time.monotonic()
    for name in sorted({m["ctest"] for m in muts}):
        log("baseline: building test_%s" % name)
        ok, out = build(build_dir, "test_" + name, a.jobs, os.path.join(logs, "baseline-build.log"))
        if not ok:
            die("baseline build of test_%s failed:\n%s" % (name, out[-3000:]))
        rc, failed, _ = run_test(build_dir, name, os.path.join(logs, "baseline-%s.log" % name))
        if rc != 0:
            die("test %s fails WITHOUT any mutation (%s): fix it first; log %s"
                % (name, ", ".join(failed) or rc, os.path.join(logs, "baseline-%s.log" % name)))
    baseline_sec = time.monotonic() - t0
    log("baseline passed in %.1f s; %d mutations" % (baseline_sec, len(muts)))

    results = []
    for i, m in enumerate(muts, 1):
        path = os.path.join(src_dir, m["file"])
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.count(m["original"]) != 1:
            die("%s: original text not found once in the copy %s" % (m["id"], path))
        t0 = time.monotonic()
        mlog = os.path.join(logs, m["id"] + ".log")
        try:
            write_if_changed(path, text.replace(m["original"], m["replacement"]).encode())
            ok, out = build(build_dir, "test_" + m["ctest"], a.jobs, mlog)
            if not ok:
                status, failed = "BUILD-FAILED", []
            else:
                rc, failed, _ = run_test(build_dir, m["ctest"], mlog)
                if rc == 0:
                    status = "MISSED"
                elif m["case"] and m["case"] not in failed and "(timeout)" not in failed:
                    status = "WRONG-TEST"
                else:
                    status = "caught"
        finally:
            write_if_changed(path, text.encode())
        sec = time.monotonic() - t0
        caught_by = m["ctest"] + (" (" + ", ".join(failed) + ")" if failed else "")
        results.append(dict(id=m["id"], file=m["file"], test=m["ctest"] + (
            ":" + m["case"] if m["case"] else ""), status=status,
            caught_by=failed if status == "caught" else [], failed_tests=failed,
            seconds=round(sec, 2), description=m["description"], log=mlog))
        log("[%d/%d] %-28s %-12s %5.1f s  %s" % (i, len(muts), m["id"], status, sec,
                                                caught_by if failed else ""))
        if status == "BUILD-FAILED":
            log("%s (%s): the mutated code does not build, see %s:\n%s"
                % (m["id"], m["where"], mlog, out[-1500:]))
    # the restored files: build once more so the next run starts from unmutated objects
    for name in sorted({m["ctest"] for m in muts}):
        build(build_dir, "test_" + name, a.jobs, os.path.join(logs, "restore-build.log"))
    total = time.monotonic() - t_start

    w = max([len("mutation")] + [len(r["id"]) for r in results])
    print("%-*s  %-12s  %7s  %s" % (w, "mutation", "status", "seconds", "caught by"))
    for r in results:
        print("%-*s  %-12s  %7.1f  %s" % (w, r["id"], r["status"], r["seconds"],
                                          ", ".join(r["failed_tests"]) or "-"))
    bad = [r for r in results if r["status"] != "caught"]
    print("%d of %d mutations caught; baseline %.1f s, total %.1f s"
          % (len(results) - len(bad), len(results), baseline_sec, total))
    prefix = os.path.abspath(a.out) if a.out else os.path.join(scratch, "mutation")
    with open(prefix + ".json", "w") as f:
        json.dump(dict(list=os.path.relpath(os.path.abspath(a.list), ROOT), root=ROOT,
                       caught=len(results) - len(bad), total=len(results),
                       baseline_seconds=round(baseline_sec, 2), total_seconds=round(total, 2),
                       mutations=results), f, indent=1)
    with open(prefix + ".csv", "w", newline="") as f:
        cw = csv.writer(f)
        cw.writerow(["id", "file", "test", "status", "failed_tests", "seconds", "description"])
        for r in results:
            cw.writerow([r["id"], r["file"], r["test"], r["status"], ";".join(r["failed_tests"]),
                         r["seconds"], r["description"]])
    log("results: %s.json, %s.csv" % (prefix, prefix))
    for r in bad:
        log("NOT CAUGHT: %s (%s) %s: %s; log %s" % (r["id"], r["test"], r["status"],
                                                    r["description"], r["log"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
