"""The tenth probe of issue #33 (h38): command lines that should end before any training
(refusals, `compare --report_only`), run in one process to save torch's import on a busy
machine: `nasiam.cli.main(argv)` per probe, its return code (or SystemExit code), stderr's tail,
and whether a raw control character or a traceback (an exception escaping main) was seen.
usage: python probe10_inproc.py T SECTION... (T: the probe's mktemp -d folder)."""
import contextlib
import hashlib
import io
import json
import os
import sys
import traceback

T = sys.argv[1]
N = os.path.join(T, "n10")
os.makedirs(N, exist_ok=True)
os.chdir(os.path.join(T, "cwd"))
from nasiam import SearchableHead  # noqa: E402
from nasiam.cli import main  # noqa: E402
from nasiam.rundir import write_search_genotypes  # noqa: E402

TINY = "--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0".split()
LOG = open(os.path.join(T, "summary.log"), "a")


def run(pid, argv):
    out, err = io.StringIO(), io.StringIO()
    tb = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        except BaseException:   # noqa: BLE001 - an exception escaping main is the CLI's traceback
            traceback.print_exc(file=err)
            rc, tb = "exc", 1
    text = out.getvalue() + err.getvalue()
    raw = sum(text.count(c) for c in "\x1b\x07\x9b")
    tail = " ".join(line for line in err.getvalue().splitlines() if line.strip() and "Warning" not in line)[-600:]
    line = f"{pid} rc={rc} rawctl={raw} tb={tb} :: {tail}"
    print(line)
    LOG.write(line + "\n")
    LOG.flush()
    return text


def genotypes(seed=0):
    import torch
    torch.manual_seed(seed)
    return {"projector": SearchableHead(512, 512).genotype(), "predictor": SearchableHead(512, 512).genotype()}


def run_file(name, data=None, raw=None):
    d = os.path.join(N, "hh", name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "genotype.json")
    if raw is not None:
        open(path, "wb").write(raw)
    else:
        open(path, "w").write(json.dumps(data))
    return d


def cmp(pid, heads, out, *extra):
    return run(pid, ["compare", "--seeds", "1", *TINY, "--heads", heads, "--report_only", "--out", os.path.join(N, out), *extra])


for section in sys.argv[2:]:
    if section == "heads":   # family 6: --heads files with odd JSON
        good = os.path.join(N, "hh", "good")
        os.makedirs(good, exist_ok=True)
        write_search_genotypes(os.path.join(good, "genotype.json"), "simsiam", genotypes())
        text = open(os.path.join(good, "genotype.json")).read()
        data = json.loads(text)
        cmp("H0 (a valid run-level genotype.json, the baseline)", f"m={good}", "h0")
        # duplicate keys: two projector entries, the second another architecture; "heads" twice
        other = json.loads(json.dumps(data))
        other["heads"]["projector"]["layers"][0]["activation"] = "gelu" if data["heads"]["projector"]["layers"][0]["activation"] != "gelu" else "relu"
        pj1, pj2 = json.dumps(data["heads"]["projector"]), json.dumps(other["heads"]["projector"])
        dup = text.replace('"heads": {', '"heads": {"projector": ' + pj2 + ', ', 1) if '"heads": {' in text else None
        d = run_file("dupslot", raw=dup.encode())
        cmp("H1 (genotype.json with the key projector twice, two architectures: json keeps the last)", f"m={d}", "h1")
        d = run_file("dupversion", raw=text.replace('"schema_version": 1', '"schema_version": 99, "schema_version": 1', 1).encode())
        cmp("H2 (schema_version twice, 99 then 1)", f"m={d}", "h2")
        deep = dict(data)
        nest = 0
        for _ in range(5000):
            nest = [nest]
        deep["heads"] = {"projector": {**data["heads"]["projector"], "meta": {"x": nest}}}
        d = run_file("deep5000", raw=json.dumps(deep).encode() if False else
                     text.replace('"heads": {', '"heads": {"zz": ' + "[" * 200000 + "]" * 200000 + ', ', 1).encode())
        cmp("H3 (a 200,000-deep list in heads: RecursionError territory)", f"m={d}", "h3")
        d = run_file("deepmeta", raw=text.replace('"meta": {', '"meta": {"x": ' + "[" * 900 + "]" * 900 + ', ', 1).encode())
        cmp("H4 (meta holding a 900-deep list)", f"m={d}", "h4")
        d = run_file("bigwidth", raw=text.replace('"width": ', '"width": 1e999 , "w": ', 1).encode())
        cmp("H5 (width 1e999, read as inf)", f"m={d}", "h5")
        d = run_file("floatversion", raw=text.replace('"schema_version": 1', '"schema_version": 1.0', 1).encode())
        cmp("H6 (schema_version 1.0, a float)", f"m={d}", "h6")
        d = run_file("bigint", raw=text.replace('"schema_version": 1', '"schema_version": ' + "9" * 4000, 1).encode())
        cmp("H7 (schema_version a 4,000-digit integer)", f"m={d}", "h7")
        d = run_file("cyrillic", raw=text.replace('"projector"', '"proj\u0435ctor"', 1).encode())
        cmp("H8 (slot projector spelt with a Cyrillic e)", f"m={d}", "h8")
        d = run_file("zwj", raw=text.replace('"simsiam"', '"sim\u200dsiam"', 1).encode())
        cmp("H9 (framework simsiam with a zero-width joiner)", f"m={d}", "h9")
        d = run_file("utf16", raw=text.encode("utf-16"))
        cmp("H10 (the file in UTF-16 with a BOM)", f"m={d}", "h10")
        d = run_file("nan", raw=text.replace('"meta": {', '"meta": {"x": NaN, ', 1).encode())
        cmp("H11 (NaN in a head's meta)", f"m={d}", "h11")
        single = data["heads"]["projector"]
        evil = json.loads(json.dumps(single))
        evil.setdefault("meta", {})["slot"] = "../../evil"
        os.makedirs(os.path.join(N, "hh", "single"), exist_ok=True)
        ev = os.path.join(N, "hh", "single", "evilslot.json")
        open(ev, "w").write(json.dumps(evil))
        cmp("H12 (a single head's file whose meta.slot is ../../evil)", f"m={ev}", "h12")
        esc = json.loads(json.dumps(single))
        esc.setdefault("meta", {})["slot"] = "pro\x1b[2Jjector"
        es = os.path.join(N, "hh", "single", "escslot.json")
        open(es, "w").write(json.dumps(esc))
        cmp("H13 (a single head's file whose meta.slot holds ESC[2J)", f"m={es}", "h13")
        run("H14 (pretrain --head the ../../evil file)", ["pretrain", *TINY, "--head", ev, "--out_dir", os.path.join(N, "runs"), "--run_name", "h14"])
        print("H14 n10 after:", sorted(os.listdir(N)), "runs:", sorted(os.listdir(os.path.join(N, "runs"))) if os.path.isdir(os.path.join(N, "runs")) else None)
        run("H15 (pretrain --head the ESC-slot file)", ["pretrain", *TINY, "--head", es, "--out_dir", os.path.join(N, "runs"), "--run_name", "h15"])
    elif section == "labels":   # family 5: collisions after normalisation
        import itertools

        from nasiam.compare.plan import slug
        seen = {}
        pair = None
        for n in itertools.count():
            label = "x" + "".join(":+"[(n >> i) & 1] + "y" for i in range(20))   # all slug to x-y-y-...-y
            h = slug(label)
            if h in seen:
                pair = (seen[h], label)
                break
            seen[h] = label
        print("hash-prefix collision:", pair, slug(pair[0]))
        cmp("L1 (two labels, one slug text, sha1[:6] equal: a brute-forced hash collision)", f"{pair[0]}=default,{pair[1]}=paper", "l1")
        cmp("L2 (the same pair as random rows: heads/<slug>-1 shared)", f"{pair[0]}=random:1,{pair[1]}=random:1", "l2")
        g = os.path.join(N, "hh", "good")
        for name in ("\u00e9", "e\u0301"):   # one name on screen, two folders (NFC and NFD)
            os.makedirs(os.path.join(N, "lab", name), exist_ok=True)
            open(os.path.join(N, "lab", name, "genotype.json"), "w").write(open(os.path.join(g, "genotype.json")).read())
        cmp("L3 (two PATH rows without labels, folders 'é' NFC and NFD: labels from the folder names)",
            f"{os.path.join(N, 'lab', chr(233))},{os.path.join(N, 'lab', 'e' + chr(0x301))}", "l3")
        for name in ("esc\x1b[2Jname", "default", "search1", "a" * 250):
            os.makedirs(os.path.join(N, "lab", name), exist_ok=True)
            open(os.path.join(N, "lab", name, "genotype.json"), "w").write(open(os.path.join(g, "genotype.json")).read())
        cmp("L4 (a PATH row without label whose folder name holds ESC[2J)", os.path.join(N, "lab", "esc\x1b[2Jname"), "l4")
        cmp("L5 (a PATH row without label whose folder is called default, beside the default row)",
            f"default,{os.path.join(N, 'lab', 'default')}", "l5")
        cmp("L6 (a PATH row without label whose folder is called search1, beside a search row)",
            f"search,{os.path.join(N, 'lab', 'search1')}", "l6")
        cmp("L7 (a PATH row without label whose folder name is 250 characters: runs/<250>-s0, logs/<250>-s0.log)",
            os.path.join(N, "lab", "a" * 250), "l7")
        cmp("L8 (labels a_b and a-b)", "a_b=default,a-b=paper", "l8")
        cmp("L9 (a label equal to the comparison's own folder names: logs, heads, runs)", "logs=default,heads=paper,runs=directpred", "l9")
    elif section == "lock":   # the live-lock check and RunDirLock on odd .lock files
        for kind in ("fifo", "dir", "devnull"):
            d = os.path.join(N, "lk", kind)
            os.makedirs(d, exist_ok=True)
            lock = os.path.join(d, ".lock")
            if kind == "fifo":
                os.mkfifo(lock)
            elif kind == "dir":
                os.makedirs(lock)
            else:
                os.symlink("/dev/null", lock)
            run(f"K-{kind} (search --run_name where .lock is a {kind})", ["search", *TINY, "--warmup_epochs", "0", "--out_dir", os.path.join(N, "lk"), "--run_name", kind])
            print(f"K-{kind} after:", sorted(os.listdir(d)))
    elif section.startswith("img"):   # family 1: image folders, one search each (refused before training, or at the first read)
        import subprocess
        IMG = "--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --warmup_epochs 0 --knn_subset 16".split()
        kinds = section.split(":")[1].split(",")
        for kind in kinds:
            root = os.path.join(T, "img", kind)
            if not os.path.isdir(root):
                os.makedirs(os.path.join(T, "img"), exist_ok=True)
                subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe10_images.py"), root, kind], check=True)
            run(f"I-{kind}", ["search", *IMG, "--data_root", root, "--out_dir", os.path.join(N, "ir"), "--run_name", kind])
            d = os.path.join(N, "ir", kind)
            print(f"I-{kind} run folder:", sorted(os.listdir(d)) if os.path.isdir(d) else None)
    elif section == "nanmeta":   # H11 followed: what nasiam writes from a head file whose meta holds NaN
        from nasiam.rundir import read_head_file
        from nasiam.space.genotype import Genotype
        hf = read_head_file(os.path.join(N, "hh", "nan"))
        g = hf.genotypes["projector"]
        print("H11b meta as read:", g.meta)
        try:
            text = g.to_json()
            print("H11b to_json wrote:", text[text.find('"meta"'):][:80].replace("\n", " "))
            Genotype.from_json(text)
            print("H11b read back: ok")
        except Exception as e:   # noqa: BLE001
            print("H11b", type(e).__name__, str(e)[:200])
    elif section == "l7run":   # L7 run, not --report_only: a 250-character label from a folder name
        run("L7r (compare, a PATH row without label whose folder name is 250 characters, not --report_only)",
            ["compare", "--seeds", "1", *TINY, "--heads", os.path.join(N, "lab", "a" * 250), "--out", os.path.join(N, "l7r")])
        d = os.path.join(N, "l7r")
        print("L7r:", sorted(os.listdir(d)) if os.path.isdir(d) else None, sorted(os.listdir(os.path.join(d, "runs"))) if os.path.isdir(os.path.join(d, "runs")) else None)
    elif section == "livelock":   # compare's live-lock check (launch.still_running) against odd holders of a planned run's .lock
        import subprocess
        holders = []
        for pid_, content in (("LL1", b"hello, not json"), ("LL2", b'{"pid": 1, "host": "\x1b]0;owned\x07", "since": 1e308, "command": "search"}'),
                              ("LL3", b"")):
            out = os.path.join(N, pid_.lower())
            run_dir = os.path.join(out, "runs", "default-s0")
            os.makedirs(run_dir, exist_ok=True)
            lock = os.path.join(run_dir, ".lock")
            open(lock, "wb").write(content)
            # a process of this probe's own holding the flock (another program's lock file, or a record it forged)
            h = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)", lock],
                                 stdout=subprocess.PIPE)
            h.stdout.readline()
            holders.append(h)
            run(f"{pid_} (compare; runs/default-s0/.lock holds {content[:40]!r}, flock held by another process)",
                ["compare", "--seeds", "1", *TINY, "--heads", "default", "--out", out])
            h.kill()   # this probe's own holder, by its Popen
            h.wait()
    elif section == "cmpjson":   # family 9: compare.json edited by hand (valid JSON, wrong content), the l8 comparison copied
        import shutil
        base = os.path.join(N, "l8")
        edits = {
            "CJ1 (schema_version 99)": lambda m: m.update(schema_version=99),
            "CJ2 (schema_version '1', a string)": lambda m: m.update(schema_version="1"),
            "CJ3 (an unknown top-level key)": lambda m: m.update(evil={"x": 1}),
            "CJ4 (framework byol, the call's simsiam)": lambda m: m.update(framework="byol"),
            "CJ5 (common.epochs a list)": lambda m: m["common"].update(epochs=["1"]),
            "CJ6 (random_genotypes pointing outside: {'r-1': '/etc/passwd'})": lambda m: m.update(random_genotypes={"r-1": "/etc/passwd"}),
            "CJ7 (finished_summaries names a run with a non-sha256 string)": lambda m: m.update(finished_summaries={"a_b-s0": "x"}),
            "CJ8 (format nasiam.compare, everything else removed)": lambda m: [m.pop(k) for k in list(m) if k != "format"],
        }
        for i, (name, edit) in enumerate(edits.items(), start=1):
            out = os.path.join(N, f"cj{i}")
            shutil.copytree(base, out)
            m = json.load(open(os.path.join(out, "compare.json")))
            edit(m)
            open(os.path.join(out, "compare.json"), "w").write(json.dumps(m))
            before = hashlib.sha256(open(os.path.join(out, "compare.json"), "rb").read()).hexdigest()
            run(name, ["compare", "--seeds", "1", *TINY, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", out])
            after = hashlib.sha256(open(os.path.join(out, "compare.json"), "rb").read()).hexdigest()
            print(f"  compare.json {'unchanged' if before == after else 'REWRITTEN: ' + open(os.path.join(out, 'compare.json')).read()[:300]}")
    elif section == "seeds":   # family 5/11: seed lists that name one seed twice
        for i, seeds in enumerate(("0,00", "0,+0", "0,-0", " 0 , 1 ", "1,0", "0,99999999999999999999"), start=1):
            run(f"SD{i} (--seeds {seeds!r})", ["compare", "--seeds", seeds, *TINY, "--heads", "default", "--report_only", "--out", os.path.join(N, f"sd{i}")])
    elif section == "heads2":   # H4, H5, H11 again: the first pass's byte edits missed (the written file has no "meta")
        good = os.path.join(N, "hh", "good")
        data = json.load(open(os.path.join(good, "genotype.json")))
        nest = 0
        for _ in range(900):
            nest = [nest]
        for pid_, name, edit in (
                ("H4b (a 900-deep list in the projector's meta)", "deepmeta2", lambda d: d["heads"]["projector"].update(meta={"x": nest})),
                ("H5b (the first layer's width Infinity)", "infwidth", lambda d: d["heads"]["projector"]["layers"][0].update(width=float("inf"))),
                ("H11c (NaN in the projector's meta)", "nanmeta2", lambda d: d["heads"]["projector"].update(meta={"x": float("nan")})),
                ("H16 (in_dim 1e400 written as a 401-digit integer)", "bigindim", lambda d: d["heads"]["projector"].update(in_dim=10 ** 400)),
                ("H17 (the predictor's genotype null)", "nullpred", lambda d: d["heads"].update(predictor=None))):
            d = json.loads(json.dumps(data))
            edit(d)
            path = run_file(name, raw=json.dumps(d).encode())
            cmp(pid_, f"m={path}", name)
    elif section == "export2":   # an export into a folder already used as another export's --out, concurrently: see probe10_cli.sh
        pass
