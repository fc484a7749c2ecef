"""A throwaway PKI for TLS tests, made with openssl."""

import subprocess
from pathlib import Path

from .gating import require_programs


def make_test_pki(directory):
    """Make a throwaway PKI in directory with openssl (EC P-256, valid 2 days).  Returns a dict of paths:
    ca/ca_key and other/other_key (two unrelated CAs), server/server_key (CN and SAN DNS:localhost, SAN
    IP:127.0.0.1, signed by ca), client/client_key (CN and SAN DNS:client.sekiwake.test, clientAuth, signed by ca)."""
    require_programs("openssl")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args):
        out = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, text=True, cwd=d,
                             timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {out.stderr}")

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=sekiwake e2e {ca} CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaves = {"server": ("localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth"),
              "client": ("client.sekiwake.test", "DNS:client.sekiwake.test", "clientAuth")}
    for name, (cn, san, usage) in leaves.items():
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                                       f"keyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    paths = {}
    for name in ("ca", "other", "server", "client"):
        paths[name] = d / f"{name}.pem"
        paths[f"{name}_key"] = d / f"{name}.key"
    return paths
