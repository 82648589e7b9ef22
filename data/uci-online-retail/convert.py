#!/usr/bin/env python3
"""Convert the UCI "Online Retail" data set into the host's JSON Lines event format.

Input: the R data file data/onlineretail.rda from the CRAN package "onlineretail"
(GitHub: allanvc/onlineretail), which holds the full UCI table (541,909 invoice lines)
as an xz-compressed R serialization (format version 2 or 3).  R is not needed: this
script contains a small reader for that format, written for this purpose.

Output: one event per invoice that has a customer id, sorted by time:
  {"user": "<CustomerID>", "event": "shop/order_placed" | "shop/order_cancelled",
   "ts": "YYYY-MM-DDTHH:MM:SSZ", "data": {...}}

Usage:
  python3 convert.py onlineretail.rda events.jsonl [stats.json]

Python 3 standard library only.
"""
import bz2
import collections
import datetime
import gzip
import json
import lzma
import math
import struct
import sys

# ---------------------------------------------------------------------------
# Minimal reader for R's XDR serialization (what save()/saveRDS() write).
# Only the object kinds that occur in plain data frames are handled fully;
# environments, closures and the like are parsed but not interpreted.
# ---------------------------------------------------------------------------

NA_INTEGER = -2147483648


class RObject:
    """A vector or list read from R, with its attributes (a dict)."""

    def __init__(self, rtype, value, attrs=None):
        self.rtype = rtype
        self.value = value
        self.attrs = attrs or {}

    def __repr__(self):
        return "RObject(%d, len=%s, attrs=%s)" % (
            self.rtype, len(self.value) if hasattr(self.value, "__len__") else "?",
            sorted(self.attrs))


class Sym:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Sym(%r)" % self.name


class Pair:
    """One cell of an R pairlist (LISTSXP, LANGSXP, ...)."""

    def __init__(self, rtype, tag, car, cdr, attrs):
        self.rtype, self.tag, self.car, self.cdr, self.attrs = rtype, tag, car, cdr, attrs


def pairlist_items(p):
    out = []
    while isinstance(p, Pair):
        out.append((p.tag.name if isinstance(p.tag, Sym) else None, p.car))
        p = p.cdr
    return out


class RReader:
    def __init__(self, data):
        self.d = data
        self.pos = 0
        self.refs = []

    def int(self):
        v = struct.unpack_from(">i", self.d, self.pos)[0]
        self.pos += 4
        return v

    def length(self):
        n = self.int()
        if n == -1:  # long vector: two 32-bit halves
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def bytes(self, n):
        b = self.d[self.pos:self.pos + n]
        self.pos += n
        return b

    def header(self):
        fmt = self.bytes(2)
        if fmt != b"X\n":
            raise ValueError("only the XDR (binary big-endian) format is supported, got %r" % fmt)
        version = self.int()
        self.int()  # writer's R version
        self.int()  # minimal R version to read
        if version == 3:
            n = self.int()
            self.bytes(n)  # native encoding name
        elif version != 2:
            raise ValueError("unsupported serialization version %d" % version)

    def attrs_from(self, p):
        return {k: v for k, v in pairlist_items(p)} if isinstance(p, Pair) else {}

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        has_obj_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))
        levels = flags >> 12

        if t == 254:  # NILVALUE_SXP
            return None
        if t in (253, 252, 251, 250, 242, 241):  # global/unbound/missing/base ns/empty/base env
            return Sym("<special %d>" % t)
        if t == 255:  # REFSXP
            idx = flags >> 8
            if idx == 0:
                idx = self.int()
            return self.refs[idx - 1]
        if t in (247, 249, 248):  # PERSISTSXP, NAMESPACESXP, PACKAGESXP: a string vector
            self.int()  # always 0
            n = self.int()
            names = [self.item() for _ in range(n)]
            obj = Sym("<namespace %s>" % names)
            self.refs.append(obj)
            return obj
        if t == 1:  # SYMSXP
            obj = Sym(None)
            self.refs.append(obj)
            obj.name = self.item()
            return obj
        if t == 4:  # ENVSXP
            obj = Sym("<environment>")
            self.refs.append(obj)
            self.int()  # locked
            self.item()  # enclosure
            self.item()  # frame
            self.item()  # hash table
            self.item()  # attributes
            return obj
        if t in (2, 3, 5, 6, 17, 240, 239):  # pairlist-like
            attrs = self.item() if has_obj_attr else None
            tag = self.item() if has_tag else None
            car = self.item()
            cdr = self.item()
            return Pair(t, tag, car, cdr, self.attrs_from(attrs))
        if t == 238:  # ALTREP_SXP
            info = self.item()
            state = self.item()
            attrs = self.item()
            cls = pairlist_items(info)[0][1].name if isinstance(info, Pair) else None
            return self.altrep(cls, state, self.attrs_from(attrs))
        if t == 9:  # CHARSXP
            n = self.int()
            if n == -1:
                return None  # NA_character_
            raw = self.bytes(n)
            enc = "latin-1" if levels & (1 << 2) else "utf-8"
            return raw.decode(enc, errors="replace")
        if t in (10, 13):  # LGLSXP, INTSXP
            n = self.length()
            vals = list(struct.unpack_from(">%di" % n, self.d, self.pos))
            self.pos += 4 * n
            vals = [None if v == NA_INTEGER else v for v in vals]
            if t == 10:
                vals = [None if v is None else bool(v) for v in vals]
            obj = RObject(t, vals)
        elif t == 14:  # REALSXP
            n = self.length()
            vals = list(struct.unpack_from(">%dd" % n, self.d, self.pos))
            self.pos += 8 * n
            obj = RObject(t, [None if math.isnan(v) else v for v in vals])
        elif t == 15:  # CPLXSXP
            n = self.length()
            vals = struct.unpack_from(">%dd" % (2 * n), self.d, self.pos)
            self.pos += 16 * n
            obj = RObject(t, [complex(vals[2 * i], vals[2 * i + 1]) for i in range(n)])
        elif t == 16:  # STRSXP
            n = self.length()
            obj = RObject(t, [self.item() for _ in range(n)])
        elif t in (19, 20):  # VECSXP, EXPRSXP
            n = self.length()
            obj = RObject(t, [self.item() for _ in range(n)])
        elif t == 24:  # RAWSXP
            n = self.length()
            obj = RObject(t, self.bytes(n))
        elif t == 25:  # S4SXP
            obj = RObject(t, None)
        else:
            raise ValueError("unsupported R object type %d at byte %d" % (t, self.pos))
        if has_obj_attr:
            obj.attrs = self.attrs_from(self.item())
        return obj

    def altrep(self, cls, state, attrs):
        """Expand the ALTREP classes that base R writes for plain vectors."""
        if cls in ("compact_intseq", "compact_realseq"):
            n, start, step = state.value[:3]
            vals = [start + i * step for i in range(int(n))]
            if cls == "compact_intseq":
                vals = [int(v) for v in vals]
            return RObject(13 if cls == "compact_intseq" else 14, vals, attrs)
        if cls and cls.startswith("wrap_"):
            inner = state.value[0]
            if attrs:
                inner.attrs = attrs
            return inner
        if cls == "deferred_string":
            arg = pairlist_items(state)[0][1] if isinstance(state, Pair) else state
            vals = []
            for v in arg.value:
                if v is None:
                    vals.append(None)
                elif isinstance(v, float) and v.is_integer():
                    vals.append(str(int(v)))
                else:
                    vals.append(str(v))
            return RObject(16, vals, attrs)
        raise ValueError("unsupported ALTREP class %r" % cls)


def read_rdata(path):
    """Return {name: object} for an .rda/.RData file written by save()."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    elif raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:3] == b"BZh":
        raw = bz2.decompress(raw)
    if raw[:5] not in (b"RDX2\n", b"RDX3\n"):
        raise ValueError("not an R data file (magic %r)" % raw[:5])
    r = RReader(raw)
    r.pos = 5
    r.header()
    top = r.item()
    return dict(pairlist_items(top))


def data_frame_columns(df):
    names = df.attrs["names"].value
    return {name: col for name, col in zip(names, df.value)}


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

def iso(epoch_seconds):
    t = datetime.datetime.fromtimestamp(round(epoch_seconds), tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def money(x):
    return round(x + 0.0, 2)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    stats_path = argv[3] if len(argv) > 3 else None

    objs = read_rdata(src)
    name, df = next(iter(objs.items()))
    cols = data_frame_columns(df)
    inv = cols["InvoiceNo"].value
    sku = cols["StockCode"].value
    qty = cols["Quantity"].value
    when = cols["InvoiceDate"]
    price = cols["UnitPrice"].value
    cust = cols["CustomerID"].value
    country = cols["Country"].value
    tz = when.attrs.get("tzone")
    tz = tz.value[0] if tz is not None else None
    when = when.value
    nrows = len(inv)

    # Group the invoice lines by invoice number, in source order.
    invoices = collections.OrderedDict()
    dropped_lines = 0
    dropped_invoices = set()
    for i in range(nrows):
        if cust[i] is None:
            dropped_lines += 1
            dropped_invoices.add(inv[i])
            continue
        rec = invoices.get(inv[i])
        if rec is None:
            rec = invoices[inv[i]] = {
                "user": str(int(cust[i])), "first": when[i], "country": country[i],
                "lines": [], "customers": set()}
        rec["first"] = min(rec["first"], when[i])
        rec["customers"].add(int(cust[i]))
        rec["lines"].append((sku[i], qty[i], price[i]))

    events = []
    for number, rec in invoices.items():
        if len(rec["customers"]) != 1:
            raise ValueError("invoice %s has several customers" % number)
        cancelled = number.upper().startswith("C")
        units = sum(abs(q) for _, q, _ in rec["lines"])
        total = sum(abs(q) * p for _, q, p in rec["lines"])
        items = [[s, int(abs(q)) if float(q).is_integer() else abs(q), money(p)]
                 for s, q, p in rec["lines"]]
        events.append({
            "user": rec["user"],
            "event": "shop/order_cancelled" if cancelled else "shop/order_placed",
            "ts": iso(rec["first"]),
            "data": {
                "invoice": number,
                "country": rec["country"],
                "lines": len(rec["lines"]),
                "units": int(units) if float(units).is_integer() else units,
                "total": money(total),
                "currency": "GBP",
                "items": items,
            },
            "_sort": (rec["first"], int(rec["user"]), number),
        })
    events.sort(key=lambda e: e["_sort"])

    with open(dst, "w", encoding="utf-8") as out:
        for e in events:
            del e["_sort"]
            out.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")

    counts = collections.Counter(e["event"] for e in events)
    stats = {
        "object": name,
        "source_rows": nrows,
        "source_tzone": tz,
        "lines_without_customer_dropped": dropped_lines,
        "invoices_without_customer_dropped": len(dropped_invoices),
        "events": len(events),
        "users": len({e["user"] for e in events}),
        "first_ts": events[0]["ts"],
        "last_ts": events[-1]["ts"],
        "event_counts": dict(sorted(counts.items())),
    }
    text = json.dumps(stats, indent=2)
    print(text)
    if stats_path:
        with open(stats_path, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
