"""check_run_json.py: what test_cli.c asserts on a run folder's JSON files, with Python's
json module (what a user's script would use).

  check_run_json.py config CONFIG.json ALGO KEY=VALUE...   the provenance members, the
      shortest float text (raw "0.99", never 0.99000001), and each KEY (dotted: sac.gamma)
      equal to VALUE
  check_run_json.py failed FAILED STEP                     {"error": non-empty, "step": STEP}
  check_run_json.py scenarios JSON_TEXT_FILE DIR           every DIR/*.ini listed once, and
      pendulum-gear with task pendulum and sim gear_scale 0.3
  check_run_json.py rollout JSON_TEXT_FILE EPISODES SEED   o2o-sim --random-episodes --json
  check_run_json.py dataset JSON_TEXT_FILE                  o2o dataset info --json: every key's
      shape a list of ints, observations [rows, obs_dim]
  check_run_json.py bench JSON_TEXT_FILE NAME               o2o bench NAME --json on stdout
Exit 0 when every check holds, else 1 with the first failing one on stderr."""
import glob
import json
import os
import re
import struct
import sys


def fail(msg):
    sys.stderr.write("check_run_json: %s\n" % msg)
    sys.exit(1)


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def shortest_f32(x):
    if x == int(x) and abs(x) < 1e15:
        return "%d" % x
    for p in range(1, 10):
        t = "%.*g" % (p, x)
        if f32(float(t)) == f32(x):
            return t
    return repr(x)


def get(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            fail("no key %s" % dotted)
        obj = obj[part]
    return obj


def check_config(path, algo, pairs):
    raw = open(path).read()
    c = json.loads(raw)
    cl = c.get("command_line")
    if not isinstance(cl, list) or not cl or not all(isinstance(a, str) for a in cl):
        fail("command_line is not a non-empty list of strings: %r" % (cl,))
    if not os.path.basename(cl[0]).startswith("o2o") or c.get("command") not in cl:
        fail("command_line %r does not start with o2o and name the command %r" % (cl, c.get("command")))
    for k in ("git_commit", "host"):
        if not isinstance(c.get(k), str) or not c[k]:
            fail("%s missing or empty: %r" % (k, c.get(k)))
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(c.get("start_time"))):
        fail("start_time is not UTC ISO-8601: %r" % c.get("start_time"))
    if algo not in c:
        fail("no %s section" % algo)
    # every number of the learner section is the shortest text of its float32 value
    sec = re.search(r'"%s": \{([^{}]*)\}' % re.escape(algo), raw)
    if not sec:
        fail("cannot find the %s section's text" % algo)
    for tok in re.findall(r":\s*(-?[0-9][0-9.eE+-]*)", sec.group(1)):
        if tok != shortest_f32(float(tok)):
            fail("%s: %s is not the shortest text of its float32 (%s)" % (algo, tok, shortest_f32(float(tok))))
    if '"gamma": 0.99' not in raw:
        fail('gamma not printed as 0.99')
    for kv in pairs:
        k, v = kv.split("=", 1)
        got = get(c, k)
        if got != json.loads(v):
            fail("%s = %r, expected %s" % (k, got, v))


def main():
    what = sys.argv[1]
    if what == "config":
        check_config(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif what == "failed":
        f = json.load(open(sys.argv[2]))
        if not isinstance(f.get("error"), str) or not f["error"]:
            fail("FAILED has no error text: %r" % f)
        if f.get("step") != int(sys.argv[3]):
            fail("FAILED step %r, expected %s" % (f.get("step"), sys.argv[3]))
    elif what == "scenarios":
        lst = json.load(open(sys.argv[2]))
        names = [s["name"] for s in lst]
        want = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(sys.argv[3], "*.ini")))
        if sorted(names) != want:
            fail("listed %r, the folder has %r" % (names, want))
        g = [s for s in lst if s["name"] == "pendulum-gear"][0]
        if g["task"] != "pendulum" or g["sim"] != {"gear_scale": 0.3} or not g["description"]:
            fail("pendulum-gear: %r" % g)
    elif what == "rollout":
        r = json.load(open(sys.argv[2]))
        eps = r["episodes"]
        if len(eps) != int(sys.argv[3]) or r["seed"] != int(sys.argv[4]):
            fail("rollout %r" % r)
        mean = sum(e["return"] for e in eps) / len(eps)
        if abs(mean - r["mean_return"]) > 1e-9 or not all(e["length"] > 0 for e in eps):
            fail("rollout mean/lengths %r" % r)
    elif what == "dataset":
        d = json.load(open(sys.argv[2]))
        for k, v in d["keys"].items():
            if not isinstance(v["shape"], list) or not all(isinstance(n, int) for n in v["shape"]):
                fail("key %s: shape %r is not a list of integers" % (k, v["shape"]))
        if d["keys"]["observations"]["shape"] != [d["rows"], d["obs_dim"]]:
            fail("observations shape %r, rows %r, obs_dim %r" % (d["keys"]["observations"]["shape"], d["rows"], d["obs_dim"]))
    elif what == "bench":
        b = json.load(open(sys.argv[2]))
        if b.get("bench") != sys.argv[3] or not isinstance(b.get("ratio_o2o_floor"), (int, float)):
            fail("bench JSON %r" % b)
    else:
        fail("unknown check %s" % what)


main()
