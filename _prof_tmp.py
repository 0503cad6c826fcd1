import multiprocessing as mp, tempfile, time, os, cProfile, pstats
from pathlib import Path
from datetime import UTC, datetime
import requests
from simple_salesforce.api import Salesforce
from benchmarks.api_calls import _fill, _serve, Sandbox, _fields
from mappings import SANDBOX_TOKEN_ENV, load_config, write_default_config
from sync.connectors import build_connector

if __name__ == "__main__":
    N = 40000
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "b.db"); _fill(db, N, 1)
        ctx = mp.get_context("spawn"); parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(db, tmp, child), daemon=True); proc.start()
        url, ca, token = parent.recv()
        sb = Sandbox(url, ca, token)
        for _ in range(100):
            try: sb.http.get(f"{url}/__sandbox/health", timeout=1); break
            except Exception: time.sleep(0.1)
        os.environ[SANDBOX_TOKEN_ENV] = token
        config = load_config(write_default_config(Path(tmp) / "leadq.yaml", sandbox_url=url, ca_bundle=ca))
        fields = [f for f in _fields(config, "salesforce", "Lead") if not f.startswith("leadq")]
        conn = build_connector(config, "salesforce", bulk_threshold=N+1)
        s = requests.Session(); s.trust_env=False; s.verify=ca
        sf = Salesforce(instance_url=url, session_id=token, session=s, version="59.0")
        def raw(soql, headers={}):
            t=time.perf_counter(); n=0
            r = sf.query(soql, headers=headers)
            n += len(r["records"])
            while not r["done"]:
                r = sf.query_more(r["nextRecordsUrl"], identifier_is_url=True, headers=headers); n += len(r["records"])
            return n/(time.perf_counter()-t)
        bare = f"SELECT Id, SystemModstamp, {', '.join(fields)} FROM Lead"
        full = bare + " WHERE SystemModstamp >= 1970-01-01T00:00:00Z AND SystemModstamp < 2099-01-01T00:00:00Z ORDER BY SystemModstamp, Id"
        for i in range(2):
            print("raw bare", raw(bare))
            print("raw bare batch2000", raw(bare, {"Sforce-Query-Options": "batchSize=2000"}))
            print("raw full", raw(full, {"Sforce-Query-Options": "batchSize=2000"}))
            t=time.perf_counter(); n=sum(len(p.records) for p in conn.pull_changes("Lead", fields, None, run_started=datetime.now(UTC)))
            print("connector", n/(time.perf_counter()-t))
        pr = cProfile.Profile(); pr.enable()
        n=sum(len(p.records) for p in conn.pull_changes("Lead", fields, None, run_started=datetime.now(UTC)))
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(15)
        proc.terminate()
