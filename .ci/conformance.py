"""Runs the third-party SCIM checker scim2-tester against a running scimd.

Usage: conformance.py BASE_URL TOKEN

Prints one line per check and a closing "N passed, N failed" line. Every check
must end SUCCESS, COMPLIANT or ACCEPTABLE; DEVIATION, ERROR, CRITICAL and
SKIPPED count as failures (a skipped check is an untested feature).
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status

PASS = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    results = check_server(SyncSCIMClient(http))
    passed = failed = 0
    for r in results:
        ok = r.status in PASS
        passed += ok
        failed += not ok
        where = f" [{r.resource_type}]" if r.resource_type else ""
        line = f"{r.status.name:10} {r.title}{where}"
        if not ok:
            line += f": {r.reason}"
        print(line)
    print(f"scim2-tester: {passed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
