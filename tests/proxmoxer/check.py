#!/usr/bin/env python3
"""Exercise a running pvekit simulator with the third-party `proxmoxer` client.

Usage:
    check.py INFO_FILE [RESTRICTED_TOKEN_ID=SECRET]
    check.py - [...]          # read the info line from stdin

INFO_FILE holds the simulator's JSON info line. Needs `pip install proxmoxer requests`.
Logs in with the password and with the API token, lists nodes, cluster resources
(type=vm), and reads one container's config and status/current. With a restricted token
(read-only, such as the PVEAuditor role), it also checks that the token reads the same
and that a power action is refused with a 403 naming the missing privilege. Prints a
summary; exits non-zero on any failure.
"""
import json
import sys
import urllib.parse

import urllib3
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def read_info(arg):
    if arg == "-":
        line = sys.stdin.readline()
    else:
        with open(arg, encoding="utf-8") as f:
            line = f.readline()
    return json.loads(line)


def exercise(api, label):
    nodes = api.nodes.get()
    assert isinstance(nodes, list) and nodes, "no nodes"
    assert all("node" in n and "status" in n for n in nodes), nodes
    guests = api.cluster.resources.get(type="vm")
    assert all(g["type"] in ("lxc", "qemu") for g in guests), guests
    vmids = [str(g["vmid"]) for g in guests]
    assert vmids == sorted(vmids), "resources not sorted by VMID as strings"
    cts = [g for g in guests if g["type"] == "lxc" and g.get("status") != "unknown"]
    assert cts, "no container"
    ct = cts[0]
    cfg = api.nodes(ct["node"]).lxc(ct["vmid"]).config.get()
    assert len(cfg["digest"]) == 40, cfg
    cur = api.nodes(ct["node"]).lxc(ct["vmid"]).status.current.get()
    assert cur["vmid"] == ct["vmid"] and cur["status"] in ("running", "stopped"), cur
    print(
        f"{label}: {len(nodes)} nodes, {len(guests)} guests, "
        f"CT {ct['vmid']} on {ct['node']} is {cur['status']} (hostname {cfg.get('hostname')})"
    )


def restricted(host, port, token):
    token_id, _, secret = token.partition("=")
    user, _, name = token_id.partition("!")
    api = ProxmoxAPI(host, port=port, user=user, token_name=name, token_value=secret,
                     verify_ssl=False, backend="https")
    exercise(api, "restricted token")
    guests = api.cluster.resources.get(type="vm")
    ct = next(g for g in guests if g["type"] == "lxc" and g.get("status") == "stopped")
    try:
        api.nodes(ct["node"]).lxc(ct["vmid"]).status.start.post()
    except ResourceException as e:
        want = f"Permission check failed (/vms/{ct['vmid']}, VM.PowerMgmt)"
        assert e.status_code == 403 and e.content == want, (e.status_code, e.content)
        print(f"restricted token: start CT {ct['vmid']} refused as expected ({e.content})")
        return
    raise AssertionError("the restricted token started a container")


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    info = read_info(sys.argv[1])
    url = urllib.parse.urlparse(info["url"])
    host, port = url.hostname, url.port
    user, _, token_name = info["token_id"].partition("!")
    failures = 0
    try:
        api = ProxmoxAPI(host, port=port, user=info["username"], password=info["password"],
                         verify_ssl=False, backend="https")
        exercise(api, "password login")
    except Exception as e:  # noqa: BLE001 - report and count every failure
        print(f"password login: FAILED: {e!r}", file=sys.stderr)
        failures += 1
    try:
        api = ProxmoxAPI(host, port=port, user=user, token_name=token_name,
                         token_value=info["secret"], verify_ssl=False, backend="https")
        exercise(api, "token login")
    except Exception as e:  # noqa: BLE001
        print(f"token login: FAILED: {e!r}", file=sys.stderr)
        failures += 1
    if len(sys.argv) == 3:
        try:
            restricted(host, port, sys.argv[2])
        except Exception as e:  # noqa: BLE001
            print(f"restricted token: FAILED: {e!r}", file=sys.stderr)
            failures += 1
    try:
        ProxmoxAPI(host, port=port, user=info["username"], password="definitely-wrong",
                   verify_ssl=False, backend="https")
        print("bad password: FAILED: login succeeded", file=sys.stderr)
        failures += 1
    except Exception as e:  # noqa: BLE001
        print(f"bad password: refused as expected ({type(e).__name__})")
    print("OK" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
