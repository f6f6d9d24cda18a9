"""The deployment files are valid: every econqd command line in docker-compose.yml, the
Dockerfile and the systemd units passes `econqd ARGS --check-config` (with the environment the file
gives it, data paths moved to a temporary directory), the YAML files parse, the units carry their
hardening and pass `systemd-analyze verify` when it exists, and promtool accepts
ops/prometheus.yml. Run by ctest with ECONQ_SOURCE_DIR and ECONQ_BUILD_DIR set."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC = os.environ.get("ECONQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("ECONQ_BUILD_DIR", "."), "econqd")
WORKER_KINDS = ["forecast", "chart", "embed", "llm"]  # instances of econqd-worker@ checked; kinds this build has
STRONG_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwdyBuF8PcR0U="
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes",
             "MemoryDenyWriteExecute=yes", "RestrictAddressFamilies=", "SystemCallFilter=@system-service",
             "CapabilityBoundingSet=", "RestrictNamespaces=yes", "LockPersonality=yes"]

failures = []
checked = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


class Sandbox:
    """A private data directory, an API keys file and a strong webhook secret for production."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="eqdeploy")
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        out = subprocess.run([BIN, "keygen", "deploy"], capture_output=True, text=True, check=True)
        line = re.search(r"^line: (\S+)$", out.stdout, re.M).group(1)
        self.keys = os.path.join(self.dir, "api-keys")
        with open(self.keys, "w") as f:
            f.write(line + "\n")

    def localize(self, env, args):
        """Moves deployment paths into the sandbox; the settings themselves stay as written."""
        env = dict(env)
        if "ECONQ_DATA_DIR" in env:
            env["ECONQ_DATA_DIR"] = self.data
        if "ECONQ_API_KEYS_FILE" in env or env.get("ECONQ_ENV") == "production":
            env["ECONQ_API_KEYS_FILE"] = self.keys
        if env.get("ECONQ_ENV") == "production":
            env.setdefault("ECONQ_WEBHOOK_SECRET", STRONG_SECRET)
        args = list(args)
        for i, a in enumerate(args):
            if a in ("--data-dir", "--api-keys-file") and i + 1 < len(args):
                args[i + 1] = self.data if a == "--data-dir" else self.keys
        return env, args


def check_invocation(where, args, env, box):
    env, args = box.localize(env, args)
    full = {k: v for k, v in os.environ.items() if not k.startswith("ECONQ_")}
    full.update(env)
    full["LSAN_OPTIONS"] = os.environ.get("LSAN_OPTIONS", "")
    p = subprocess.run([BIN] + args + ["--check-config"], capture_output=True, text=True, env=full,
                       timeout=60)
    checked.append(where)
    if p.returncode != 0:
        fail("%s: econqd %s --check-config exited %d: %s%s" % (where, " ".join(args), p.returncode,
                                                              p.stdout, p.stderr))


def dockerfile(box):
    path = os.path.join(SRC, "Dockerfile")
    text = open(path).read()
    final = text[text.rindex("\nFROM "):]  # the runtime stage
    entry = json.loads(re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", final, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD\s+(\[.*\])\s*$", final, re.M).group(1))
    if not entry or os.path.basename(entry[0]) != "econqd":
        fail("Dockerfile: the ENTRYPOINT is not econqd: %r" % entry)
    env = {}
    for m in re.finditer(r"^ENV\s+(.+)$", final, re.M):
        for kv in m.group(1).split():
            k, _, v = kv.partition("=")
            env[k] = v
    for needed in ("HEALTHCHECK", "USER ", "VOLUME"):
        if needed not in final:
            fail("Dockerfile: the final stage has no %s" % needed.strip())
    if "/health" not in final:
        fail("Dockerfile: the HEALTHCHECK does not probe /health")
    check_invocation("Dockerfile CMD", entry[1:] + cmd, env, box)
    return entry, env


def compose(box, entry, image_env):
    path = os.path.join(SRC, "docker-compose.yml")
    doc = yaml.safe_load(open(path))
    services = doc.get("services") or {}
    if not services:
        fail("docker-compose.yml: no services")
    ours = 0
    for name, svc in services.items():
        if "build" not in svc:
            continue  # another image (ollama)
        ours += 1
        cmd = svc.get("command")
        if isinstance(cmd, str):
            cmd = cmd.split()
        if not cmd:
            fail("docker-compose.yml: service %s has no command" % name)
            continue
        env = dict(image_env)
        senv = svc.get("environment") or {}
        if isinstance(senv, list):
            senv = dict(e.split("=", 1) for e in senv)
        env.update({k: str(v) for k, v in senv.items()})
        check_invocation("docker-compose.yml service %s" % name, entry[1:] + cmd, env, box)
        if cmd[0] in ("serve", "server") and "healthcheck" not in svc:
            fail("docker-compose.yml: service %s has no healthcheck" % name)
    if ours == 0:
        fail("docker-compose.yml: no econqd service")


def unit_file(path, box):
    name = os.path.basename(path)
    text = open(path).read()
    for h in HARDENING:
        if not re.search("^" + re.escape(h), text, re.M):
            fail("%s: no %s" % (name, h))
    if name == "econqd.service" and "ReadWritePaths=/var/lib/econq" not in text:
        fail("%s: no ReadWritePaths=/var/lib/econq" % name)
    env = {}
    for m in re.finditer(r"^Environment=(\S+?)=(.*)$", text, re.M):
        env[m.group(1)] = m.group(2)
    instances = WORKER_KINDS if "@." in name else [None]
    execs = re.findall(r"^(ExecStart(?:Pre)?)=(\S+)(.*)$", text, re.M)
    if not any(k == "ExecStart" for k, _, _ in execs):
        fail("%s: no ExecStart" % name)
    for kind, binary, rest in execs:
        if os.path.basename(binary) != "econqd":
            fail("%s: %s runs %s" % (name, kind, binary))
            continue
        for inst in instances:
            args = [a.replace("%i", inst) if inst else a for a in rest.split()]
            if "--check-config" in args:
                args.remove("--check-config")
            check_invocation("%s %s%s" % (name, kind, " (%s)" % inst if inst else ""), args, env,
                             box)


def systemd_verify(box):
    tool = shutil.which("systemd-analyze")
    if not tool:
        print("systemd-analyze not found: unit syntax not verified", file=sys.stderr)
        return
    tmp = os.path.join(box.dir, "units")
    os.mkdir(tmp)
    files = []
    for name in ("econqd.service", "econqd-worker@.service"):
        text = open(os.path.join(SRC, "ops", "systemd", name)).read()
        # verify wants the binaries to exist: point them at the build's econqd.
        text = text.replace("/usr/local/bin/econqd", os.path.abspath(BIN))
        inst = name.replace("@.", "@forecast.")
        with open(os.path.join(tmp, inst), "w") as f:
            f.write(text)
        files.append(os.path.join(tmp, inst))
    p = subprocess.run([tool, "verify"] + files, capture_output=True, text=True)
    bad = [l for l in (p.stdout + p.stderr).splitlines() if "econqd" in l]
    if p.returncode != 0 or bad:
        fail("systemd-analyze verify: %s" % (p.stdout + p.stderr))


def prometheus():
    path = os.path.join(SRC, "ops", "prometheus.yml")
    doc = yaml.safe_load(open(path))
    jobs = doc.get("scrape_configs") or []
    if not any(j.get("metrics_path", "/metrics") == "/metrics" for j in jobs):
        fail("ops/prometheus.yml: no job scrapes /metrics")
    promtool = shutil.which("promtool")
    if promtool:
        # credentials_file must exist for promtool: check a copy pointing at a temporary file.
        with tempfile.TemporaryDirectory() as d:
            key = os.path.join(d, "key")
            open(key, "w").write("eqk_example\n")
            text = open(path).read().replace("/etc/prometheus/econq-key", key)
            cfg = os.path.join(d, "prometheus.yml")
            open(cfg, "w").write(text)
            p = subprocess.run([promtool, "check", "config", cfg], capture_output=True, text=True)
            if p.returncode != 0:
                fail("promtool check config: %s%s" % (p.stdout, p.stderr))
    else:
        fail("promtool not found (Debian package prometheus)")


def main():
    box = Sandbox()
    try:
        entry, env = dockerfile(box)
        compose(box, entry, env)
        for name in ("econqd.service", "econqd-worker@.service"):
            unit_file(os.path.join(SRC, "ops", "systemd", name), box)
        systemd_verify(box)
        prometheus()
    finally:
        shutil.rmtree(box.dir, ignore_errors=True)
    print("checked %d invocations: %s" % (len(checked), "; ".join(checked)))
    if len(checked) < 5:
        fail("only %d invocations found" % len(checked))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
