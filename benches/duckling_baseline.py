#!/usr/bin/env python3
"""Duckling baseline for Volcano's entity extractor.

Runs Facebook Duckling (through pyduckling-native-phihos==0.3.0 with pendulum==3.3.0; see
benches/requirements-duckling.txt; 0.3.0 is the newest release on PyPI) over the labelled set
benches/data/extract_eval.jsonl, scores it with the rule the Rust extractor is scored with
(an entity matches when dim, start, end and value are equal; a time's "values" list is
ignored), times it per sentence, and prints one JSON object:

  {"f1", "precision", "recall", "per_dim", "heldout": {...}, "us_per_sentence", ...}

Scoring notes:
- "percentage" and "data-size" are not Duckling dimensions: labelled entities of those dims are
  left out, and so are Duckling entities overlapping them (Duckling reads "15%" as the number
  15, which is not its mistake to pay for).
- Duckling reports "$" as the money unit where we report "USD" (and "€"/"£" likewise); the
  symbols are mapped to codes before comparing.
- "latent" and the "values" list are dropped before comparing.

Setup:
  python3 -m venv /root/.cache/volcano/tools/duckling-venv
  /root/.cache/volcano/tools/duckling-venv/bin/pip install -r benches/requirements-duckling.txt
  /root/.cache/volcano/tools/duckling-venv/bin/python benches/duckling_baseline.py

Timing mode, for criterion's `iter_custom` in benches/stages.rs: `--time N` parses N sentences
of the set (in order, wrapping around) after a warm-up pass and prints only the elapsed
seconds; `--time -` reads one N per line from stdin and answers each with a line of elapsed
seconds, so Duckling starts once for many measurements.
"""

import argparse
import json
import os
import sys
import time

import duckling
import pendulum

DUCKLING_DIMS = [
    "number", "ordinal", "amount-of-money", "distance", "duration", "temperature",
    "quantity", "volume", "email", "url", "phone-number", "time",
]
SKIPPED_DIMS = {"percentage", "data-size"}
MONEY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


def match_key(entity):
    value = dict(entity.get("value") or {})
    value.pop("values", None)
    if entity.get("dim") == "amount-of-money" and value.get("unit") in MONEY_SYMBOLS:
        value["unit"] = MONEY_SYMBOLS[value["unit"]]
    return (entity.get("dim"), entity.get("start"), entity.get("end"),
            json.dumps(value, sort_keys=True))


def overlaps(a, b):
    return a["start"] < b["end"] and b["start"] < a["end"]


class Score:
    def __init__(self):
        self.all = [0, 0, 0]  # true positives, false positives, false negatives
        self.per_dim = {}

    def _bump(self, dim, k):
        self.all[k] += 1
        self.per_dim.setdefault(dim, [0, 0, 0])[k] += 1

    def add(self, expected, got):
        skipped = [e for e in expected if e["dim"] in SKIPPED_DIMS]
        expected = [e for e in expected if e["dim"] not in SKIPPED_DIMS]
        got = [g for g in got if not any(overlaps(g, s) for s in skipped)]
        unmatched = [match_key(g) for g in got]
        for e in expected:
            key = match_key(e)
            if key in unmatched:
                unmatched.remove(key)
                self._bump(e["dim"], 0)
            else:
                self._bump(e["dim"], 2)
        for g in unmatched:
            self._bump(g[0], 1)

    @staticmethod
    def figures(c):
        tp, fp, fn = c
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
                "tp": tp, "fp": fp, "fn": fn}

    def summary(self):
        out = self.figures(self.all)
        out["per_dim"] = {d: self.figures(c) for d, c in sorted(self.per_dim.items())}
        return out


class Duckling:
    def __init__(self):
        duckling.init()
        self.zones = duckling.load_time_zones("/usr/share/zoneinfo")
        lang = duckling.parse_lang("EN")
        self.locale = duckling.parse_locale("EN_US", duckling.default_locale_lang(lang))
        self.dims = duckling.parse_dimensions(DUCKLING_DIMS)
        self.contexts = {}

    def context(self, ref_time):
        if ref_time not in self.contexts:
            ref = pendulum.parse(ref_time)
            tz = ref.timezone_name if ref.timezone_name not in (None, "+00:00") else "UTC"
            ref = duckling.parse_ref_time(self.zones, tz, int(ref.timestamp()))
            self.contexts[ref_time] = duckling.Context(ref, self.locale)
        return self.contexts[ref_time]

    def parse(self, text, ref_time):
        return duckling.parse_text(text, self.context(ref_time), self.dims, False)


def time_parses(dk, cases, n):
    """Prints the seconds N parses take, cycling through the set; '-' reads N from stdin."""
    for case in cases:  # warm-up: builds every reference-time context
        dk.parse(case["text"], case["ref_time"])

    def timed(count):
        start = time.perf_counter()
        for i in range(count):
            case = cases[i % len(cases)]
            dk.parse(case["text"], case["ref_time"])
        return time.perf_counter() - start

    if n != "-":
        print(f"{timed(int(n)):.9f}")
        return
    for line in sys.stdin:
        if line.strip():
            print(f"{timed(int(line)):.9f}", flush=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default=os.path.join(here, "data", "extract_eval.jsonl"))
    ap.add_argument("--reps", type=int, default=5, help="timed passes over the set")
    ap.add_argument("--time", metavar="N",
                    help="only time N parses and print the elapsed seconds ('-': N per stdin line)")
    args = ap.parse_args()

    with open(args.eval, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    dk = Duckling()
    if args.time is not None:
        time_parses(dk, cases, args.time)
        return

    all_score, heldout_score = Score(), Score()
    for case in cases:
        got = json.loads(dk.parse(case["text"], case["ref_time"]))
        all_score.add(case["entities"], got)
        if case.get("split") == "heldout":
            heldout_score.add(case["entities"], got)

    for case in cases:  # warm-up (the scoring pass above warmed up too)
        dk.parse(case["text"], case["ref_time"])
    start = time.perf_counter()
    for _ in range(args.reps):
        for case in cases:
            dk.parse(case["text"], case["ref_time"])
    elapsed = time.perf_counter() - start

    out = all_score.summary()
    out["heldout"] = heldout_score.summary()
    out["us_per_sentence"] = round(elapsed / (args.reps * len(cases)) * 1e6, 2)
    out["sentences"] = len(cases)
    out["skipped_dims"] = sorted(SKIPPED_DIMS)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
