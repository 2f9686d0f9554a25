"""A real Kubernetes node beside the kwok nodes: containerd, runc, bridge CNI, kubelet, kube-proxy and CoreDNS.

`RealNode(tools, workdir, logs, api_port, token).start(kube, labels)` joins one node to the run's control plane; `stop()` ends
everything it started (the driver calls it from `finally` and from its signal handlers). What it keeps private:

- **Network**: every process of the node runs in a network namespace the run creates (held by an `unshare`d
  process). A veth pair (`msv<id>` on the host, `msn<id>` inside, names unique per run) links it to the host;
  the pods' bridge (`msb<id>`) and addresses (a free /24 in 10.0.0.0/8, chosen per run) live inside. The host
  gets one route to the pod /24 through the veth (gone with the namespace). `net.ipv4.ip_forward` and the
  bridge's netfilter switch are set inside the namespace only (both are per namespace); the host's ip_forward is
  checked and restored at stop. kube-proxy's iptables rules are the namespace's own.
- **Files**: the node's processes run in a private mount namespace in which run folders are bind-mounted over
  /run, /var/lib, /var/log and /usr/libexec (the kubelet writes /var/log/pods, /var/log/containers,
  /var/lib/kubelet/device-plugins and /usr/libexec/kubernetes whatever its config says; containerd puts shim
  sockets under /run/containerd), and files holding the values the kubelet wants are bind-mounted over the
  three kernel tunables it would otherwise write (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops).
- **cgroups**: pods go under `/modelstack-<id>` in every cgroup v1 hierarchy (the kubelet's cgroupRoot), removed
  at stop.
- **API server**: the node reaches the host's loopback API server through a relay listening on the API
  server's port on 0.0.0.0 inside the namespace (`netns.Forwarder`); `api_address` is that address for pods
  (whoever deploys in-cluster clients points the `kubernetes` Service's endpoints at it).
- **Images**: containerd pulls only from the run's registry (`registry.py`, on the namespace's loopback),
  configured as the mirror of every registry host in `mirror_hosts`; `store` is its content. `import_image`
  imports an archive directly instead.

Logs (cleared at start): `logs/node/{containerd,kubelet,kube-proxy,coredns,registry}.log` and every container's
own log in `logs/node/pods/` (hard-linked as it appears, so logs of deleted pods stay, to their last line).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import images
import netns
from procs import Processes, terminate
from registry import Registry

CNI_BIN = "/usr/lib/cni"
PACKAGES = {"containerd": "containerd", "runc": "runc", "ctr": "containerd", "iptables": "iptables",
            "ip": "iproute2", "unshare": "util-linux", "nsenter": "util-linux"}
TAINT_KEY = "modelstack.io/e2e-real-node"
"""The real node's NoSchedule taint: only pods that tolerate it (the serving scenarios' models) run there."""
DNS_DOMAIN = "cluster.local"
#: What the kubelet sets these to at start-up (kubelet's setupKernelTunables); the files bind-mounted over them
#: hold these values, so it finds them set and the machine's own stay as they are.
KERNEL_TUNABLES = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
#: Host folders the node's processes write whatever their config says; each gets a run folder over it.
PRIVATE_DIRS = ("/run", "/var/lib", "/var/log", "/usr/libexec")


@dataclass
class NodeTools:
    kubelet: str
    kube_proxy: str
    coredns: str
    podbins: Path

    @classmethod
    def from_env_file(cls, path: Path) -> "NodeTools":
        env = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
        return cls(kubelet=f"{env['KUBE_BIN']}/kubelet", kube_proxy=f"{env['KUBE_BIN']}/kube-proxy",
                   coredns=env["COREDNS"], podbins=Path(env["PODBINS"]))


def missing_packages() -> list[str]:
    """Debian packages the node needs that are not installed (`make node-packages` installs them)."""
    miss = {pkg for exe, pkg in PACKAGES.items() if shutil.which(exe) is None}
    if not Path(CNI_BIN, "bridge").exists():
        miss.add("containernetworking-plugins")
    return sorted(miss)


def free_subnet(rng: random.Random) -> ipaddress.IPv4Network:
    """A /23 in 10.0.0.0/8 overlapping no address or route of the host (pods get the first /24, the veth the
    second): chosen at random, so two runs at once on one machine pick different ones."""
    used = []
    for cmd in (["ip", "-4", "-o", "addr"], ["ip", "-4", "route"]):
        for word in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split():
            try:
                used.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                pass
    for _ in range(200):
        n = ipaddress.ip_network(f"10.{rng.randrange(100, 250)}.{rng.randrange(0, 256, 2)}.0/23")
        if not any(n.overlaps(u) for u in used if u.prefixlen > 0):
            return n
    raise RuntimeError("no free /23 in 10.100.0.0-10.249.255.255 for the real node")


def link_addresses(net: ipaddress.IPv4Network) -> tuple[str, str]:
    """(host side, node side) of the veth /30 in the second /24 of `net`: the node's address is its Node IP and
    the kubelet's and kube-proxy's bind address; the relay to the API server listens there too (`api_address`)."""
    link = ipaddress.ip_network(f"{net.network_address + 256}/30")
    return str(link.network_address + 1), str(link.network_address + 2)


class RealNode:
    def __init__(self, tools: NodeTools, workdir: Path, logs: Path, api_port: int, token: str,
                 mirror_hosts: tuple[str, ...] = (), subnet: ipaddress.IPv4Network | None = None):
        self.tools, self.api_port, self.token = tools, api_port, token
        self.id = secrets.token_hex(3)
        self.name = f"realnode-{self.id}"
        self.dir = workdir / "node"
        self.logs = logs / "node"
        self.mirror_hosts = tuple(dict.fromkeys((images.LOCAL_REGISTRY, "public.ecr.aws", "docker.io",
                                                 "registry.k8s.io", "ghcr.io", *mirror_hosts)))
        net = subnet or free_subnet(random.Random())
        self.pod_cidr = ipaddress.ip_network(f"{net.network_address}/24")
        self.host_ip, self.node_ip = link_addresses(net)
        self.veth_host, self.veth_node, self.bridge = f"msv{self.id}", f"msn{self.id}", f"msb{self.id}"
        self.cgroup_root = f"/modelstack-{self.id}"
        self.store = images.Store(self.dir / "images")
        self.holder: subprocess.Popen | None = None
        self.procs = Processes(self.logs)
        self.forwarder: netns.Forwarder | None = None
        self.registry: Registry | None = None
        self.host_ip_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()

    # ---- helpers
    @property
    def api_address(self) -> str:
        """The API server as the node's pods reach it (the relay on the node's address)."""
        return f"{self.node_ip}:{self.api_port}"

    def ns(self, argv: list[str]) -> list[str]:
        """`argv` run inside the node's mount and network namespaces."""
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--", *argv]

    def net_ns(self, argv: list[str]) -> list[str]:
        """`argv` run inside the node's network namespace only (the host's files): the load generator."""
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-n", "--", *argv]

    def _sh(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {p.returncode} {p.stderr.strip()[-500:]}")
        return p

    def _start(self, name: str, argv: list[str]) -> None:
        self.procs.start(name, self.ns(argv))

    def _wait(self, what: str, ok, timeout: float) -> None:
        self.procs.wait(f"real node: {what}", ok, timeout)

    # ---- start
    def start(self, kube, labels: dict[str, str], timeout: float = 180) -> str:
        """Starts the node (registered with the taint TAINT_KEY=true:NoSchedule), patches `labels` on and waits
        until it is Ready; returns its name."""
        if os.geteuid() != 0:
            raise RuntimeError("real node: needs root (namespaces, mounts, cgroups, veth); run `make e2e` as root")
        miss = missing_packages()
        if miss:
            raise RuntimeError(f"real node: Debian packages missing: {', '.join(miss)} (run `make node-packages`)")
        d = self.dir
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)
        for sub in ("fs", "sysctl", "kubelet", "containerd", "cni/net.d", "cni/ipam", "volume-plugins"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        self.store = images.Store(d / "images")
        self.store.add(images.pause(self.tools.podbins))
        self._namespaces()
        self._network()
        self._cgroups()
        # The API server's port, inside the namespace: the node's kubeconfig uses 127.0.0.1:<it>; pods reach the
        # API server at <node address>:<it> (`api_address`), e.g. as the `kubernetes` Service's endpoint.
        self.forwarder = netns.Forwarder(netns.listen_in(self.holder.pid, "0.0.0.0", self.api_port),
                                         ("127.0.0.1", self.api_port))
        self.registry = Registry(self.store, netns.listen_in(self.holder.pid, "127.0.0.1", 0),
                                 self.logs / "registry.log").start()
        self._configs()
        threading.Thread(target=self._keep_pod_logs, daemon=True).start()
        self._start("containerd", ["containerd", "--config", str(d / "containerd.toml")])
        sock = d / "fs/run/containerd/containerd.sock"
        self._wait("containerd", lambda: sock.exists() and subprocess.run(
            self.ctr("version"), capture_output=True).returncode == 0, 60)
        self._start("kubelet", [self.tools.kubelet, "--config", str(d / "kubelet.yaml"),
                                "--kubeconfig", str(d / "kubeconfig"), "--root-dir", str(d / "kubelet"),
                                "--cert-dir", str(d / "kubelet/pki"), "--hostname-override", self.name,
                                "--node-ip", self.node_ip, "--v", "2"])
        self._start("kube-proxy", [self.tools.kube_proxy, "--config", str(d / "kube-proxy.yaml"), "--v", "1"])
        self._start("coredns", [self.tools.coredns, "-conf", str(d / "Corefile")])
        path = f"/api/v1/nodes/{self.name}"
        self._wait("node registration", lambda: kube.get(path) is not None, timeout)
        kube.patch(path, {"metadata": {"labels": labels}})

        def ready() -> bool:
            n = kube.get(path) or {}
            return any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
        self._wait("node Ready", ready, timeout)
        return self.name

    def _namespaces(self) -> None:
        self.holder = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "--",
                                        "sleep", "infinity"], start_new_session=True)
        me = os.readlink("/proc/self/ns/net")
        end = time.time() + 10
        while time.time() < end:
            try:
                if os.readlink(f"/proc/{self.holder.pid}/ns/net") != me:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("real node: the namespace holder did not start")
        d = self.dir
        script = ["set -e", "ip link set lo up"]
        for p in PRIVATE_DIRS:
            src = d / "fs" / p.strip("/").replace("/", "-")
            src.mkdir(parents=True, exist_ok=True)
            script.append(f"mount --bind {src} {p}")
        for key, value in KERNEL_TUNABLES.items():
            f = d / "sysctl" / key.replace("/", ".")
            f.write_text(value + "\n")
            script.append(f"mount --bind {f} /proc/sys/{key}")
        # The kubelet's root is a shared mount point, so volume mounts it makes propagate to the containers.
        script += [f"mount --bind {d / 'kubelet'} {d / 'kubelet'}", f"mount --make-rshared {d / 'kubelet'}"]
        self._sh(self.ns(["sh", "-c", "\n".join(script)]))

    def _network(self) -> None:
        pid = str(self.holder.pid)
        self._sh(["ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_node, "netns", pid])
        self._sh(["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth_host])
        self._sh(["ip", "link", "set", self.veth_host, "up"])
        self._sh(self.ns(["sh", "-c", "\n".join([
            "set -e",
            f"ip addr add {self.node_ip}/30 dev {self.veth_node}",
            f"ip link set {self.veth_node} up",
            f"ip route add default via {self.host_ip}",
            # Per network namespace: the host's own values are untouched.
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
            "if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then "
            "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables; fi",
        ])]))
        self._sh(["ip", "route", "add", str(self.pod_cidr), "via", self.node_ip, "dev", self.veth_host])

    def _hierarchies(self) -> list[Path]:
        root = Path("/sys/fs/cgroup")
        return [h for h in sorted(root.iterdir()) if h.name != "unified" and (h / "cgroup.procs").exists()]

    def _cgroups(self) -> None:
        for h in self._hierarchies():
            c = h / self.cgroup_root.lstrip("/")
            c.mkdir(exist_ok=True)
            for f in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset child needs both before it takes tasks
                if (h / f).exists():
                    (c / f).write_text((h / f).read_text())

    def _configs(self) -> None:
        d = self.dir
        mirrors = "\n".join(
            f'[plugins."io.containerd.grpc.v1.cri".registry.mirrors."{h}"]\n  endpoint = ["http://{self.registry.address}"]'
            for h in self.mirror_hosts)
        (d / "containerd.toml").write_text(f"""version = 2
root = "{d}/containerd/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE}"
  restrict_oom_score_adj = true
  enable_cdi = false
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{d}/cni/net.d"
{mirrors}
""")
        (d / "cni/net.d/10-e2e.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "e2e", "plugins": [{
                "type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                "ipam": {"type": "host-local", "dataDir": str(d / "cni/ipam"), "ranges": [[{"subnet": str(self.pod_cidr)}]],
                         "routes": [{"dst": "0.0.0.0/0"}]}}]}, indent=1))
        kubeconfig = f"""apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {{server: "https://127.0.0.1:{self.api_port}", insecure-skip-tls-verify: true}}
users:
- name: node
  user: {{token: {self.token}}}
contexts:
- name: e2e
  context: {{cluster: e2e, user: node}}
current-context: e2e
"""
        (d / "kubeconfig").write_text(kubeconfig)
        (d / "resolv.conf").write_text("")  # pods get cluster DNS only; the host's resolvers are not the run's
        (d / "kubelet.yaml").write_text(json.dumps({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": self.node_ip, "readOnlyPort": 0, "healthzBindAddress": "127.0.0.1",
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs", "cgroupRoot": self.cgroup_root, "failCgroupV1": False, "failSwapOn": False,
            "oomScoreAdj": 0, "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
            "volumePluginDir": str(d / "volume-plugins"), "podLogsDirectory": "/var/log/pods",
            "clusterDNS": [self.node_ip], "clusterDomain": DNS_DOMAIN, "resolvConf": str(d / "resolv.conf"),
            "registerWithTaints": [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
            "serializeImagePulls": False, "maxPods": 60,
            # A shared machine's disk is not ours to free: no eviction or image GC on disk pressure.
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "protectKernelDefaults": False, "nodeStatusReportFrequency": "10s",
        }, indent=1))
        (d / "kube-proxy.yaml").write_text(json.dumps({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(d / "kubeconfig")}, "mode": "iptables",
            "hostnameOverride": self.name, "bindAddress": self.node_ip, "clusterCIDR": str(self.pod_cidr),
            "healthzBindAddress": "127.0.0.1:10256", "metricsBindAddress": "127.0.0.1:10249",
            # Leave the kernel's conntrack table size and timeouts as they are (they are not per namespace).
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            # Pod -> Service -> pod on the same bridge: masquerade so replies come back through the node.
            "iptables": {"masqueradeAll": True},
        }, indent=1))
        (d / "Corefile").write_text(f""".:53 {{
    bind {self.node_ip}
    errors
    health 127.0.0.1:8081
    ready 127.0.0.1:8182
    kubernetes {DNS_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {d / 'kubeconfig'} e2e
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
""")

    def ctr(self, *args: str) -> list[str]:
        return ["ctr", "--address", str(self.dir / "fs/run/containerd/containerd.sock"), "-n", "k8s.io", *args]

    def import_image(self, archive: Path) -> None:
        """Imports an OCI or docker archive into the node's containerd (pods then need a pull policy other than
        Always, or the ref served by `store` as well)."""
        self._sh(self.ctr("images", "import", str(archive)))

    # ---- stop
    def stop(self) -> None:
        """Stops every process of the node and its pods, removes its cgroups; the namespaces (and with them the
        veth, bridge, routes and mounts) go with the last process. Safe to call twice or after a failed start;
        every step runs even when an earlier one failed (the first error is raised at the end)."""
        errors: list[BaseException] = []

        def step(fn, *args) -> None:
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - keep stopping; raised below
                errors.append(e)
        step(self.procs.stop, ["kube-proxy", "coredns", "kubelet"])
        step(self._link_pod_logs)
        step(self._kill_cgroup_tasks)
        step(self.procs.stop)  # containerd
        step(self._kill_namespace_members)
        if self.registry:
            step(self.registry.stop)
            self.registry = None
        if self.forwarder:
            step(self.forwarder.close)
            self.forwarder = None
        if self.holder:
            step(terminate, self.holder, 0)
        step(self._remove_cgroups)
        step(lambda: subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True))  # gone with the netns
        f = Path("/proc/sys/net/ipv4/ip_forward")
        if f.read_text().strip() != self.host_ip_forward:
            f.write_text(self.host_ip_forward)
        if errors:
            raise errors[0]

    def _keep_pod_logs(self) -> None:
        """Every second, hard-links each new container log into logs/node/pods/: the kubelet deletes a pod's logs
        with the pod, the link keeps the file (same inode: the container's last lines, its exit, included)."""
        while self.holder is not None and self.holder.poll() is None:
            self._link_pod_logs()
            time.sleep(1)

    def _link_pod_logs(self) -> None:
        src, dst = self.dir / "fs/var-log/pods", self.logs / "pods"
        for dirpath, _dirs, files in os.walk(src, onerror=lambda _e: None):  # pods come and go meanwhile
            for name in files:
                f = Path(dirpath) / name
                t = dst / f.relative_to(src)
                if name.endswith(".log") and not t.exists():
                    try:
                        t.parent.mkdir(parents=True, exist_ok=True)
                        os.link(f, t)
                    except OSError:
                        pass

    def _cgroup_dirs(self) -> list[Path]:
        """Every cgroup under the node's root, deepest first, in every hierarchy (the cgroup2 one too: runc makes
        the pods' cgroups there as well); cgroups that vanish while listed are skipped."""
        out = []
        for h in [*self._hierarchies(), Path("/sys/fs/cgroup/unified")]:
            top = h / self.cgroup_root.lstrip("/")
            for dirpath, _dirs, _files in os.walk(top, onerror=lambda _e: None):
                out.append(Path(dirpath))
        return sorted(out, key=lambda p: -len(p.parts))

    def _cgroup_pids(self) -> set[int]:
        pids: set[int] = set()
        for c in self._cgroup_dirs():
            try:
                pids.update(int(x) for x in (c / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return pids

    def _kill_cgroup_tasks(self) -> None:
        for _ in range(20):
            pids = self._cgroup_pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.25)

    def _kill_namespace_members(self) -> None:
        """containerd's shims outlive containerd: end every process left in the node's mount namespace."""
        if not self.holder or self.holder.poll() is not None:
            return
        try:
            mnt = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")
        except OSError:
            return
        for _ in range(20):
            left = []
            for p in Path("/proc").iterdir():
                if p.name.isdigit() and int(p.name) != self.holder.pid:
                    try:
                        if os.readlink(p / "ns/mnt") == mnt:
                            left.append(int(p.name))
                    except OSError:
                        pass
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.25)

    def _remove_cgroups(self) -> None:
        for c in self._cgroup_dirs():
            _rmdir(c)


def _rmdir(p: Path) -> None:
    for _ in range(20):
        try:
            p.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.25)
