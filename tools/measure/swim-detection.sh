#!/usr/bin/env bash
# SWIM failure detection on real agents (issue 21): 5 agents on loopback, built in BUILD_DIR (the bin/Release/net10.0
# folder of src/WalrusGossip.Agent, so a build of an older commit can be measured too).
#   Detection: RUNS times, SIGKILL one agent and time (wall clock, polling every survivor's /v1/status every 50 ms)
#     until every survivor's SWIM view holds it dead; then start it again with the same command line, data directory and
#     ports and wait until all five views hold everyone alive.
#   False positives: nobody is killed; for FP_SECONDS (default 120) every gossip UDP datagram is dropped with probability
#     LOSS_PERCENT (default 5), and suspicions and deaths are counted from the views (polled every 50 ms) and from the
#     agents' membership log lines (refutations, "declared dead").
#   tools/measure/swim-detection.sh BUILD_DIR OUT_DIR [RUNS (default 20)] [LOSS_PERCENT (default 5)]
# BUILD_DIR `serf` runs 5 HashiCorp serf agents instead (Debian's package: memberlist's LAN profile), same method;
#   serf's view shows no suspect state, so only its log lines count suspicions.
# Environment: FP_SECONDS (120; 0 skips the phase), DETECT_LOSS_PERCENT (0: loss during the detection runs too),
#   VICTIM (rotate: agents 1..5 in turn; follower: a random non-leader; any: a random agent; or a node number),
#   LIMIT_SECONDS (4: runs at or over it are counted), SETTLE_SECONDS (5: quiet time after everyone is alive again),
#   AGENT_ARGS (extra agent arguments; the default turns on the membership log lines, which an old build may reject).
# Loss is applied only to UDP datagrams to the gossip ports 7301-7305 on lo, with tc netem (prio qdisc, netem on band 4,
# u32 filters on ip protocol 17 and each dport) when the kernel has sch_prio and sch_netem, otherwise with an iptables
# INPUT rule (statistic match, random DROP: silent for the sender, unlike a DROP in OUTPUT, which fails sendto with
# EPERM). The rules are removed on every exit but a SIGKILL of this script. Needs python3, root for loss, and free ports
# 7101-7105, 7201-7205, 7301-7305, 7401-7405 on loopback (the dev-cluster ports: one measurement at a time).
# Writes OUT_DIR/swim-detection.json, OUT_DIR/summary.txt and each agent's output under OUT_DIR/logs/.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
out=$(realpath -m "$2"); runs=${3:-20}; loss=${4:-5}
export MODE=walrus SERF=""
if [ "$1" = serf ]; then
  MODE=serf
  SERF=$(command -v serf) || { echo "swim-detection: serf is not installed (apt-get install serf)" >&2; exit 2; }
  bin=$SERF
else
  bin=$(realpath "$1")
  [ -f "$bin/walrus-agent.dll" ] || { echo "swim-detection: no walrus-agent.dll in $bin (build src/WalrusGossip.Agent -c Release first)" >&2; exit 2; }
fi
fp_seconds=${FP_SECONDS:-120}; detect_loss=${DETECT_LOSS_PERCENT:-0}
export VICTIM=${VICTIM:-rotate} LIMIT_SECONDS=${LIMIT_SECONDS:-4} SETTLE_SECONDS=${SETTLE_SECONDS:-5}
agent_args=${AGENT_ARGS---Serilog:MinimumLevel:Override:WalrusGossip.Node.WalrusNode=Debug}
nodes=5
gossip_ports=$(seq -s ' ' 7301 7305)
if { [ "$loss" != 0 ] && [ "$fp_seconds" != 0 ]; } || [ "$detect_loss" != 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "swim-detection: datagram loss needs root (tc/iptables)" >&2; exit 2; }
fi
if [ -e /tmp/walrus-swim.lock ] && kill -0 "$(cat /tmp/walrus-swim.lock)" 2>/dev/null; then
  echo "swim-detection: another run (pid $(cat /tmp/walrus-swim.lock)) is going on" >&2; exit 2
fi
busy=$(ss -Htanul 2>/dev/null | awk '{print $5}' | grep -E ':7[1-4]0[1-5]$' || true)
[ -z "$busy" ] || { echo "swim-detection: dev-cluster ports in use: $busy" >&2; exit 2; }
mkdir -p "$out/logs"
root=$(mktemp -d /tmp/walrus-swim-XXXXXX)
echo "$$" > /tmp/walrus-swim.lock
cluster=""
pypid=""

loss_method=none
loss_off() {
  case $loss_method in
    tc)
      echo "  dropped: $(tc -s qdisc show dev lo 2>/dev/null | grep -A1 '^qdisc netem 40:' | grep -o 'dropped [0-9]*' | head -1)" >> "$root/loss-method"
      tc qdisc del dev lo root handle 1: 2>/dev/null || true ;;
    iptables)
      echo "  dropped: $(iptables -w -L WALRUS_SWIM_LOSS -v -n -x 2>/dev/null | awk '$3 == "DROP" {print $1 " of the datagrams"}')" >> "$root/loss-method"
      for _ in 1 2 3; do iptables -w -D INPUT -i lo -p udp -m multiport --dports 7301:7305 -j WALRUS_SWIM_LOSS 2>/dev/null || break; done
      iptables -w -F WALRUS_SWIM_LOSS 2>/dev/null || true
      iptables -w -X WALRUS_SWIM_LOSS 2>/dev/null || true ;;
  esac
  loss_method=none
}
loss_on() { # PERCENT
  local pct=$1
  loss_off
  [ "$pct" = 0 ] && return 0
  # tc netem, only if lo has no root qdisc of someone else's (the default is noqueue).
  if tc qdisc show dev lo | grep -q '^qdisc noqueue 0: root' \
    && tc qdisc add dev lo root handle 1: prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1 2>/dev/null; then
    loss_method=tc
    if tc qdisc add dev lo parent 1:4 handle 40: netem loss "${pct}%" 2>/dev/null; then
      local port ok=1
      for port in $gossip_ports; do
        tc filter add dev lo parent 1:0 protocol ip prio 1 u32 match ip protocol 17 0xff match ip dport "$port" 0xffff flowid 1:4 2>/dev/null || ok=0
      done
      if [ $ok = 1 ]; then echo "tc netem ${pct}% on lo, u32 ip protocol 17 dports $gossip_ports" | tee -a "$root/loss-method" >&2; return 0; fi
    fi
    loss_off
  fi
  command -v iptables > /dev/null || { echo "swim-detection: the kernel has no sch_netem and iptables is missing (apt-get install iptables)" >&2; return 1; }
  iptables -w -N WALRUS_SWIM_LOSS 2>/dev/null || iptables -w -F WALRUS_SWIM_LOSS
  loss_method=iptables
  iptables -w -A WALRUS_SWIM_LOSS -m statistic --mode random --probability "$(python3 -c "print($pct/100)")" -j DROP
  iptables -w -I INPUT 1 -i lo -p udp -m multiport --dports 7301:7305 -j WALRUS_SWIM_LOSS
  echo "iptables INPUT -i lo -p udp --dports 7301:7305 statistic random DROP ${pct}% (no sch_prio/sch_netem in this kernel)" | tee -a "$root/loss-method" >&2
}

cleanup() {
  set +e
  [ -n "$pypid" ] && kill -TERM "$pypid" 2>/dev/null && wait "$pypid" 2>/dev/null
  loss_off
  [ -n "$cluster" ] && kill -TERM "$cluster" 2>/dev/null && wait "$cluster" 2>/dev/null
  if [ -f "$root/pids" ]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null; done < "$root/pids"
  fi
  for i in $(seq 1 $nodes); do cp "$root/node-$i/agent.out" "$out/logs/agent-$i.out" 2>/dev/null; done
  cp "$root"/*.ndjson "$out/" 2>/dev/null
  rm -rf "$root"
  [ "$(cat /tmp/walrus-swim.lock 2>/dev/null)" = "$$" ] && rm -f /tmp/walrus-swim.lock
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ $MODE = serf ]; then
  # serf: gossip (bind) on 7301-7305 like the agents, so the loss rules are the same; RPC on 7401-7405.
  for i in $(seq 1 $nodes); do
    mkdir -p "$root/node-$i"
    { printf '%s\0' "$SERF" agent "-node=$i" "-bind=127.0.0.1:$((7300 + i))" "-rpc-addr=127.0.0.1:$((7400 + i))"
      for j in $(seq 1 $nodes); do [ "$j" = "$i" ] || printf '%s\0' "-retry-join=127.0.0.1:$((7300 + j))"; done; } > "$root/cmdline-$i"
  done
else
  # dev-cluster makes the certificates and bootstraps the cluster; its agents' command lines are kept, it is stopped,
  # and this script runs the agents itself from then on, so it can kill and restart each with exactly the same
  # command line.
  # shellcheck disable=SC2086
  dotnet "$bin/walrus-agent.dll" dev-cluster --nodes $nodes --data-root "$root" -- $agent_args > "$out/dev-cluster.log" 2>&1 &
  cluster=$!
  for _ in $(seq 1 120); do grep -q "dev cluster is up" "$out/dev-cluster.log" && break; kill -0 $cluster 2>/dev/null || break; sleep 1; done
  grep -q "dev cluster is up" "$out/dev-cluster.log" || { echo "swim-detection: dev-cluster did not come up (see $out/dev-cluster.log)" >&2; exit 1; }
  for i in $(seq 1 $nodes); do
    pid=$(pgrep -f -- "--data-dir $root/node-$i " | head -1)
    cp "/proc/$pid/cmdline" "$root/cmdline-$i"
  done
  kill -TERM $cluster; wait $cluster 2>/dev/null || true; cluster=""
fi

cat > "$root/swim.py" <<'PY'
import http.client, json, math, os, random, re, signal, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

root, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
N = 5
POLL = 0.05
pool = ThreadPoolExecutor(max_workers=N)

def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)

MODE, SERF = os.environ["MODE"], os.environ["SERF"]
SERF_STATES = {"alive": "alive", "leaving": "alive", "failed": "dead", "left": "left"}
SERF_VERSION = subprocess.run([SERF, "version"], capture_output=True, text=True).stdout.splitlines()[0] if MODE == "serf" else None

def serf_view(i):
    try:
        r = subprocess.run([SERF, "members", f"-rpc-addr=127.0.0.1:{7400 + i}", "-format=json"], capture_output=True, timeout=2)
        if r.returncode != 0:
            return None
        d = json.loads(r.stdout)
        return {"members": {m["name"]: (SERF_STATES.get(m["status"], m["status"]), 0) for m in d.get("members", [])},
                "role": None, "leader": None, "version": SERF_VERSION}
    except Exception:
        return None

def view(i):
    """Node i's SWIM view {name: (state, incarnation)} and role, or None when it does not answer."""
    if MODE == "serf":
        return serf_view(i)
    try:
        c = http.client.HTTPConnection("127.0.0.1", 7400 + i, timeout=2)
        c.request("GET", "/v1/status")
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            return None
        d = json.loads(body)
        return {"members": {m["name"]: (m["state"], m["incarnation"]) for m in d.get("members", [])},
                "role": d.get("role"), "leader": d.get("leaderId"), "version": d.get("version")}
    except Exception:
        return None

def views(nodes):
    return dict(zip(nodes, pool.map(view, nodes)))

def pids():
    with open(f"{root}/pids") as f:
        return [int(x) for x in f.read().split()]

def save_pids(p):
    with open(f"{root}/pids.tmp", "w") as f:
        f.write("\n".join(map(str, p)) + "\n")
    os.replace(f"{root}/pids.tmp", f"{root}/pids")

def start(i):
    with open(f"{root}/cmdline-{i}", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    o = open(f"{root}/node-{i}/agent.out", "ab")
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT, start_new_session=True).pid

def all_alive(limit):
    """Waits until every node's view holds all N members alive; returns the seconds it took."""
    began = time.monotonic()
    names = {str(i) for i in range(1, N + 1)}
    while time.monotonic() - began < limit:
        vs = views(range(1, N + 1))
        if all(v is not None and set(v["members"]) >= names and all(v["members"][n][0] == "alive" for n in names) for v in vs.values()):
            return time.monotonic() - began, vs
        time.sleep(0.1)
    raise SystemExit(f"swim-detection: not all views alive after {limit} s: {vs}")

def append(name, record):
    with open(f"{root}/{name}.ndjson", "a") as f:
        f.write(json.dumps(record) + "\n")

def cmd_start():
    save_pids([start(i) for i in range(1, N + 1)])
    took, vs = all_alive(180)
    log(f"5 agents up, all views alive after {took:.1f} s (version {vs[1]['version']})")
    time.sleep(float(os.environ["SETTLE_SECONDS"]) + 5)  # let start-up work (JIT, elections, catch-up) finish

def cmd_detect(runs):
    limit = float(os.environ["LIMIT_SECONDS"])
    settle = float(os.environ["SETTLE_SECONDS"])
    policy = os.environ["VICTIM"]
    rng = random.Random()
    for run in range(1, runs + 1):
        before = views(range(1, N + 1))
        leader = next((i for i, v in before.items() if v and v["role"] == "leader"), None)
        if policy == "rotate":
            victim = (run - 1) % N + 1
        elif policy == "follower":
            victim = rng.choice([i for i in range(1, N + 1) if i != leader])
        elif policy == "any":
            victim = rng.randint(1, N)
        else:
            victim = int(policy)
        survivors = [i for i in range(1, N + 1) if i != victim]
        p = pids()
        name = str(victim)
        t0 = time.monotonic()
        os.kill(p[victim - 1], signal.SIGKILL)
        first_suspect, dead_at, gaps, last = None, {}, [], t0
        tick = 0
        while len(dead_at) < len(survivors) and time.monotonic() - t0 < 60:
            tick += 1
            pending = [s for s in survivors if s not in dead_at]
            for s, v in views(pending).items():
                now = time.monotonic()
                state = v["members"].get(name, ("missing", 0))[0] if v else "unreachable"
                if state == "suspect" and first_suspect is None:
                    first_suspect = now - t0
                if state == "dead":
                    dead_at[s] = now - t0
                    if first_suspect is None:
                        first_suspect = now - t0
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            time.sleep(max(0.0, t0 + tick * POLL - now))
        detected = max(dead_at.values()) if len(dead_at) == len(survivors) else None
        try:
            os.waitpid(p[victim - 1], os.WNOHANG)
        except ChildProcessError:
            pass
        p[victim - 1] = start(victim)
        save_pids(p)
        rejoin, _ = all_alive(180)
        record = {"run": run, "victim": victim, "victimWasLeader": victim == leader, "detectedSeconds": detected,
                  "firstSuspectSeconds": first_suspect, "deadSecondsBySurvivor": {str(k): round(v, 3) for k, v in sorted(dead_at.items())},
                  "maxPollGapSeconds": round(max(gaps), 3), "rejoinSeconds": round(rejoin, 3),
                  "loadAverage1m": os.getloadavg()[0]}
        append("runs", record)
        shown = f"{detected:.3f} s" if detected is not None else "NOT DETECTED within 60 s"
        log(f"run {run}/{runs}: killed {victim}{' (leader)' if victim == leader else ''}; first suspect {first_suspect or float('nan'):.3f} s; "
            f"dead in every survivor's view after {shown}{' (over ' + str(limit) + ' s)' if detected is None or detected >= limit else ''}; "
            f"alive again after {rejoin:.1f} s")
        time.sleep(settle + rng.random())

LOG_PATTERNS = {
    "refutedSuspicions": re.compile(r"refuting suspicion from"),
    "refutedDeaths": re.compile(r"refuting death claimed"),
    "declaredDead": re.compile(r"declared dead after"),
} if MODE == "walrus" else {  # memberlist's log lines
    "suspected": re.compile(r"memberlist: Suspect \S+ has failed, no acks received"),
    "refutedSuspicions": re.compile(r"memberlist: Refuting a suspect message"),
    "refutedDeaths": re.compile(r"memberlist: Refuting a dead message"),
    "declaredDead": re.compile(r"memberlist: Marking \S+ as failed, suspect timeout reached"),
}

def cmd_fp(seconds, loss):
    nodes = list(range(1, N + 1))
    offsets = {i: os.path.getsize(f"{root}/node-{i}/agent.out") for i in nodes}
    state = {}  # (observer, member) -> state
    suspect_episodes, dead_episodes, transitions = set(), set(), []
    unreachable = 0
    t0 = time.monotonic()
    tick = 0
    while time.monotonic() - t0 < seconds:
        tick += 1
        for o, v in views(nodes).items():
            if v is None:
                unreachable += 1
                continue
            for m, (st, inc) in v["members"].items():
                prev = state.get((o, m), "alive")
                if st != prev:
                    transitions.append({"at": round(time.monotonic() - t0, 3), "observer": o, "member": m, "from": prev, "to": st, "incarnation": inc})
                    if st == "suspect":
                        suspect_episodes.add((m, inc))
                    if st == "dead":
                        dead_episodes.add((m, inc))
                state[(o, m)] = st
        time.sleep(max(0.0, t0 + tick * POLL - time.monotonic()))
    counts = {k: 0 for k in LOG_PATTERNS}
    lines = []
    for i in nodes:
        with open(f"{root}/node-{i}/agent.out", "rb") as f:
            f.seek(offsets[i])
            for raw in f:
                line = raw.decode(errors="replace").rstrip()
                for k, pat in LOG_PATTERNS.items():
                    if pat.search(line):
                        counts[k] += 1
                        lines.append(f"agent {i}: {line}")
    result = {"seconds": seconds, "lossPercent": loss, "loadAverage1m": os.getloadavg()[0], "polledSuspectEpisodes": len(suspect_episodes),
              "polledDeadEpisodes": len(dead_episodes), "polledTransitions": transitions, "unreachablePolls": unreachable,
              **counts, "logLines": lines}
    result["falseSuspicions"] = max(len(suspect_episodes), counts["refutedSuspicions"], counts.get("suspected", 0))
    result["falseDeaths"] = max(len(dead_episodes), counts["declaredDead"], counts["refutedDeaths"])
    with open(f"{root}/fp.json", "w") as f:
        json.dump(result, f)
    log(f"false-positive phase: {seconds} s at {loss}% loss: {result['falseSuspicions']} false suspicions, {result['falseDeaths']} false deaths")

def pct(xs, q):  # nearest rank
    return xs[max(0, math.ceil(q * len(xs)) - 1)]

def cmd_summary(build, runs_wanted, loss, detect_loss):
    limit = float(os.environ["LIMIT_SECONDS"])
    runs = []
    if os.path.exists(f"{root}/runs.ndjson"):
        runs = [json.loads(l) for l in open(f"{root}/runs.ndjson")]
    fp = json.load(open(f"{root}/fp.json")) if os.path.exists(f"{root}/fp.json") else None
    det = sorted(r["detectedSeconds"] for r in runs if r["detectedSeconds"] is not None)
    missed = sum(1 for r in runs if r["detectedSeconds"] is None)
    v = view(1)
    summary = {
        "build": build, "agentVersion": v and v["version"], "nodes": N, "runs": len(runs), "victimPolicy": os.environ["VICTIM"],
        "detectLossPercent": detect_loss, "pollSeconds": POLL,
        "lossMethod": open(f"{root}/loss-method").read().splitlines() if os.path.exists(f"{root}/loss-method") else [], "limitSeconds": limit,
        "detection": {"min": det[0] if det else None, "median": (det[(len(det) - 1) // 2] + det[len(det) // 2]) / 2 if det else None,
                      "p90": pct(det, 0.9) if det else None, "max": det[-1] if det else None,
                      "overLimit": sum(1 for x in det if x >= limit) + missed, "notDetected": missed},
        "runsDetail": runs, "falsePositives": fp,
    }
    with open(f"{out}/swim-detection.json", "w") as f:
        json.dump(summary, f, indent=2)
    d = summary["detection"]
    loads = [r["loadAverage1m"] for r in runs if "loadAverage1m" in r]
    lines = [f"build {build} (agent {summary['agentVersion']}), {N} agents, {len(runs)} SIGKILL runs (victim {os.environ['VICTIM']}, {detect_loss}% loss)"
             + (f"; 1-minute load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores" if loads else "")]
    if det:
        lines.append(f"detection (kill -> dead in every survivor's view, polled every {int(POLL * 1000)} ms): min {d['min']:.3f} s, median {d['median']:.3f} s, "
                     f"p90 {d['p90']:.3f} s, max {d['max']:.3f} s; {d['overLimit']} of {len(runs)} at or over {limit:g} s")
        lines.append("runs: " + " ".join(f"{r['detectedSeconds']:.2f}" if r["detectedSeconds"] is not None else "miss" for r in runs))
    if fp:
        lines.append(f"false positives, {fp['seconds']} s at {fp['lossPercent']}% gossip datagram loss, nobody killed: "
                     f"{fp['falseSuspicions']} false suspicions (refuted {fp['refutedSuspicions']}, seen polled {fp['polledSuspectEpisodes']}), "
                     f"{fp['falseDeaths']} false deaths (declared {fp['declaredDead']}, refuted {fp['refutedDeaths']}, seen polled {fp['polledDeadEpisodes']})")
    text = "\n".join(lines)
    print(text)
    with open(f"{out}/summary.txt", "w") as f:
        f.write(text + "\n")

if cmd == "start":
    cmd_start()
elif cmd == "detect":
    cmd_detect(int(sys.argv[4]))
elif cmd == "fp":
    cmd_fp(float(sys.argv[4]), sys.argv[5])
elif cmd == "summary":
    cmd_summary(sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7])
PY
py() { # in the background, so that a signal to this script runs the trap at once (bash defers traps until a foreground child ends)
  python3 "$root/swim.py" "$root" "$out" "$@" &
  pypid=$!
  wait $pypid
  pypid=""
}
py start
if [ "$runs" -gt 0 ]; then
  loss_on "$detect_loss"
  py detect "$runs"
  loss_off
fi
if [ "$fp_seconds" != 0 ]; then
  loss_on "$loss"
  py fp "$fp_seconds" "$loss"
  loss_off
fi
py summary "$bin" "$runs" "$loss" "$detect_loss"
