"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok.

Every process binds 127.0.0.1 on a free port, logs to out/e2e/logs/, and is stopped by `Cluster.stop()`
(the driver calls it from `finally` and from signal handlers), so a failed run leaves nothing running.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kube import Kube
from procs import Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tools:
    etcd: str
    kube_bin: str
    kwok: str

    @classmethod
    def from_env_file(cls, path: Path) -> "Tools":
        env = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
        return cls(etcd=env["ETCD"], kube_bin=env["KUBE_BIN"], kwok=env["KWOK"])


@dataclass
class Cluster:
    tools: Tools
    workdir: Path
    procs: Processes = field(init=False)
    kubeconfig: Path = None  # type: ignore[assignment]
    server: str = ""
    token: str = ""

    def __post_init__(self) -> None:
        self.procs = Processes(self.workdir / "logs")

    def _start(self, name: str, argv: list[str]) -> None:
        self.procs.start(name, argv)

    def _wait(self, what: str, ok, timeout: float = 120) -> None:
        self.procs.wait(what, ok, timeout)

    def start(self) -> Kube:
        w = self.workdir
        pki = w / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        # Service account signing key (the only key the control plane needs; the API server makes its own
        # self-signed serving certificate in --cert-dir).
        sa_key = pki / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"], check=True, capture_output=True)
        sa_pub = pki / "sa.pub"
        subprocess.run(["openssl", "rsa", "-in", str(sa_key), "-pubout", "-out", str(sa_pub)], check=True,
                       capture_output=True)
        front = front_proxy_pki(pki / "front-proxy")
        self.token = secrets.token_hex(16)
        (pki / "tokens.csv").write_text(f'{self.token},e2e-admin,e2e-admin,"system:masters"\n')

        etcd_client, etcd_peer = free_port(), free_port()
        self._start("etcd", [self.tools.etcd, "--name", "e2e", "--data-dir", str(w / "etcd"),
                             "--listen-client-urls", f"http://127.0.0.1:{etcd_client}",
                             "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
                             "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                             "--initial-cluster", f"e2e=http://127.0.0.1:{etcd_peer}",
                             "--unsafe-no-fsync", "--log-level", "warn"])
        api_port = free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        kb = self.tools.kube_bin
        # Default admission plugins (PodSecurity among them) stay on; nothing here relaxes them.
        self._start("kube-apiserver", [
            f"{kb}/kube-apiserver", "--etcd-servers", f"http://127.0.0.1:{etcd_client}",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(api_port),
            "--cert-dir", str(pki / "apiserver"), "--token-auth-file", str(pki / "tokens.csv"),
            "--authorization-mode", "RBAC", "--service-cluster-ip-range", "10.96.0.0/16",
            "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", str(sa_pub),
            "--service-account-signing-key-file", str(sa_key), "--api-audiences", "https://kubernetes.default.svc",
            "--enable-priority-and-fairness=false",
            # The aggregation layer (KEDA's external metrics API server is an APIService): the front proxy's client
            # certificate and CA; requests go straight to the APIService's endpoint (a pod address the host routes).
            "--requestheader-client-ca-file", str(front["ca"]), "--requestheader-allowed-names", FRONT_PROXY_CLIENT,
            "--requestheader-username-headers", "X-Remote-User", "--requestheader-group-headers", "X-Remote-Group",
            "--requestheader-extra-headers-prefix", "X-Remote-Extra-", "--proxy-client-cert-file", str(front["cert"]),
            "--proxy-client-key-file", str(front["key"]), "--enable-aggregator-routing=true",
            # Its own address is loopback, which pods cannot reach: the `kubernetes` Service's endpoint is set by
            # whoever gives pods a way to the API server (the real node's relay), not by the API server.
            "--endpoint-reconciler-type=none",
            # Logs and exec on the real node by its address (its name resolves nowhere on this machine).
            "--kubelet-preferred-address-types=InternalIP,Hostname", "--v", "1"])
        self.kubeconfig = w / "kubeconfig"
        self.kubeconfig.write_text(kubeconfig_text(self.server, self.token))
        kube = Kube(self.server, self.token)
        self._wait("kube-apiserver", lambda: kube.raw("GET", "/readyz") == "ok", timeout=180)

        self._start("kube-controller-manager", [
            f"{kb}/kube-controller-manager", "--kubeconfig", str(self.kubeconfig),
            "--authentication-kubeconfig", str(self.kubeconfig), "--authorization-kubeconfig", str(self.kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--leader-elect=false",
            "--service-account-private-key-file", str(sa_key), "--use-service-account-credentials=false",
            # The CA pods' ServiceAccount volumes carry (kube-root-ca.crt): the API server's self-signed serving
            # certificate is written with its CA after it, and names the `kubernetes` Service's ClusterIP.
            "--root-ca-file", str(pki / "apiserver" / "apiserver.crt"),
            "--controllers", "*", "--cluster-name", "e2e", "--v", "1"])
        self._start("kube-scheduler", [
            f"{kb}/kube-scheduler", "--kubeconfig", str(self.kubeconfig),
            "--authentication-kubeconfig", str(self.kubeconfig), "--authorization-kubeconfig", str(self.kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--leader-elect=false", "--v", "1"])
        kwok_stages = f"{self.tools.kwok}.stages.yaml"
        self._start("kwok", [
            self.tools.kwok, "--kubeconfig", str(self.kubeconfig), "--config", kwok_stages,
            "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds", "40", "--cidr", "10.244.0.0/16", "--node-ip", "127.0.0.1",
            "--server-address", f"127.0.0.1:{free_port()}", "--v", "INFO"])
        # The default ServiceAccount appears once the controller-manager runs: a sign it is up.
        self._wait("kube-controller-manager",
                   lambda: kube.get("/api/v1/namespaces/default/serviceaccounts/default") is not None, timeout=120)
        return kube

    def stop(self) -> None:
        self.procs.stop()


FRONT_PROXY_CLIENT = "front-proxy-client"


def front_proxy_pki(d: Path) -> dict[str, Path]:
    """A CA and the API server's front-proxy client certificate (CN front-proxy-client), made with openssl."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (d / n for n in ("ca.key", "ca.crt", "client.key", "client.csr", "client.crt"))
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=e2e-front-proxy-ca")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={FRONT_PROXY_CLIENT}")
    ext = d / "client.ext"
    ext.write_text("extendedKeyUsage=clientAuth\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return {"ca": ca, "cert": cert, "key": key}


def kubeconfig_text(server: str, token: str) -> str:
    # The API server's certificate is self-signed for this run; the token is the run's own.
    return f"""apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: e2e-admin
  user:
    token: {token}
contexts:
- name: e2e
  context: {{cluster: e2e, user: e2e-admin}}
current-context: e2e
"""
