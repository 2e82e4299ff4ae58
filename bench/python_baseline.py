"""The peer approach, for comparison: lxml -> pyarrow -> Parquet, the same job as sendlake run.

Streams each SEN2 file with lxml.etree.iterparse (clearing each Person after use, as peer
tools do), validates UPN/ULN check digits, pseudonymises with HMAC-SHA256, degrades birth date
and postcode, and writes one Parquet file per table (zstd). It does not do everything sendlake
does (no Delta commit, no quarantine table, fewer rules), so the comparison flatters it.

    python3 bench/python_baseline.py INPUT_DIR OUTPUT_DIR
"""

import hashlib
import hmac
import os
import sys
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
from lxml import etree

KEY = b"sendlake-demo-key-NOT-SECRET-do-not-use-with-real-data"
ALPHA = "ABCDEFGHJKLMNPQRTUVWXYZ"
BATCH = 65536


def upn_ok(u):
    if not u or len(u) != 13:
        return False
    total = 0
    for i, c in enumerate(u[1:]):
        v = int(c) if c.isdigit() else (ALPHA.index(c) if c in ALPHA else None)
        if v is None:
            return False
        total += v * (i + 2)
    return ALPHA[total % 23] == u[0]


def uln_ok(u):
    if not u or len(u) != 10 or not u.isdigit() or u[0] == "0":
        return False
    s = sum(int(d) * w for d, w in zip(u[:9], range(10, 1, -1)))
    r = s % 11
    return r != 0 and 10 - r == int(u[9])


def key(kind, value):
    return hmac.new(KEY, (kind + "\x1f" + value).encode(), hashlib.sha256).hexdigest()


def text(el, name):
    c = el.find(name)
    if c is None or c.text is None:
        return None
    t = c.text.strip()
    return t or None


def d(s):
    try:
        return date.fromisoformat(s) if s else None
    except ValueError:
        return None


def b(s):
    if s is None:
        return None
    return s.lower() in ("1", "true")


class Table:
    def __init__(self, path):
        self.path = path
        self.rows = []
        self.writer = None

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        t = pa.Table.from_pylist(self.rows)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, t.schema, compression="zstd")
        self.writer.write_table(t.cast(self.writer.schema))
        self.rows = []

    def close(self):
        self.flush()
        if self.writer:
            self.writer.close()


def main(inp, out):
    os.makedirs(out, exist_ok=True)
    names = ["person", "request", "assessment", "named_plan", "plan_setting", "active_plan", "placement", "sen_need"]
    tables = {n: Table(os.path.join(out, n + ".parquet")) for n in names}
    counts = {n: 0 for n in names}
    for f in sorted(os.listdir(inp)):
        if not f.endswith(".xml"):
            continue
        path = os.path.join(inp, f)
        la = None
        for _, el in etree.iterparse(path, events=("end",), tag=("LEA", "Person")):
            if el.tag == "LEA":
                la = el.text
                continue
            upn, uln = text(el, "UPN"), text(el, "UniqueLearnerNumber")
            if upn_ok(upn):
                pk = key("upn", upn)
            elif uln_ok(uln):
                pk = key("uln", uln)
            else:
                pk = key("fallback", "|".join(str(text(el, n)) for n in ("Forename", "Surname", "PersonBirthDate", "PostCode")))
            dob = d(text(el, "PersonBirthDate"))
            pc = (text(el, "PostCode") or "").replace(" ", "")
            tables["person"].add({
                "person_key": pk, "sex": text(el, "Sex"), "ethnicity": text(el, "Ethnicity"),
                "birth_month": dob.replace(day=1) if dob else None,
                "postcode_district": pc[:-3] if len(pc) > 4 else None, "la_code": la,
            })
            counts["person"] += 1
            for seq, req in enumerate(el.findall("Requests"), 1):
                rk = hashlib.sha256(f"{la}|{pk}|{seq}".encode()).hexdigest()[:32]
                tables["request"].add({
                    "request_key": rk, "person_key": pk, "request_seq": seq,
                    "received_date": d(text(req, "ReceivedDate")), "request_outcome": text(req, "RequestOutcome"),
                    "request_outcome_date": d(text(req, "RequestOutcomeDate")), "rya": b(text(req, "RYA")),
                })
                counts["request"] += 1
                a = req.find("Assessment")
                if a is not None:
                    tables["assessment"].add({
                        "request_key": rk, "assessment_outcome": text(a, "AssessmentOutcome"),
                        "assessment_outcome_date": d(text(a, "AssessmentOutcomeDate")), "week20": b(text(a, "Week20")),
                    })
                    counts["assessment"] += 1
                    p = a.find("NamedPlan")
                    if p is not None:
                        tables["named_plan"].add({
                            "request_key": rk, "start_date": d(text(p, "StartDate")),
                            "cease_date": d(text(p, "CeaseDate")), "cease_reason": text(p, "CeaseReason"),
                        })
                        counts["named_plan"] += 1
                        for pd in p.findall("PlanDetail"):
                            tables["plan_setting"].add({
                                "request_key": rk, "urn": text(pd, "URN"), "ukprn": text(pd, "UKPRN"),
                                "sen_setting": text(pd, "SENSetting"), "placement_rank": text(pd, "PlacementRank"),
                            })
                            counts["plan_setting"] += 1
                ap = req.find("ActivePlans")
                if ap is not None:
                    tables["active_plan"].add({
                        "request_key": rk, "review_meeting": d(text(ap, "ReviewMeeting")),
                        "review_outcome": text(ap, "ReviewOutcome"), "transfer_la": text(ap, "TransferLA"),
                    })
                    counts["active_plan"] += 1
                    for pl in ap.findall("PlacementDetail"):
                        tables["placement"].add({
                            "request_key": rk, "urn": text(pl, "URN"), "sen_setting": text(pl, "SENSetting"),
                            "entry_date": d(text(pl, "EntryDate")), "placement_rank": text(pl, "PlacementRank"),
                        })
                        counts["placement"] += 1
                    for n in ap.findall("SENneed"):
                        tables["sen_need"].add({"request_key": rk, "sen_type": text(n, "SENtype"), "rank": text(n, "SENtypeRank")})
                        counts["sen_need"] += 1
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    for t in tables.values():
        t.close()
    print(counts)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
