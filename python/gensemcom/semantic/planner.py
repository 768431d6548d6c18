# SPDX-License-Identifier: GPL-3.0-or-later
"""Rate control of one encode: the prompt, the hints, the key area and the key streams within a budget.

``Planner.fit_prompt`` shrinks the prompt to its share; ``Planner.search`` chooses the key
stream's scale and quality over a reference base, then the hint level with the lowest
weighted error, then encodes at the final speed, growing or shrinking the key area when the
budget asks for it (see ``codec``'s module docstring for the whole story). Internal to
``SemanticCodec.encode``.
"""
from __future__ import annotations

import math

import numpy as np

from ..classical import stillcodec
from ..imageops import feather_weight, resize, scaled_size, to_uint8
from ..transport.budget import Budget
from ..transport.container import HEADER_BYTES, Container, Importance, Section, SectionType, section_wire_bytes
from . import maskcode
from .config import STREAM_TUNE, BudgetTooSmallError
from .hints import HINT_REF_SHARE, MIN_HINT_BYTES, HintSearch
from .inspect import split_bytes
from .keyarea import select_key_grid
from .meta import Meta
from .prompt import StructuredPrompt
from .prompt_shrink import shrinking
from .search import highest_true

MIN_KEY_FRACTION = 0.02
MAX_PROMPT_BYTES = 1024
MIN_PROMPT_CAP = 30             # the prompt may always take this many bytes (a 1x1 layout, maybe a label)
BAND_OVERHEAD = 24              # bytes an extra key band adds (sequence header, section framing)
KEY_SHARE_ESTIMATE = 0.4        # share of the budget key streams take, to size packet-aligned bands
MAX_PACKET_BANDS = 8            # most key bands sized by Budget.band_bytes
FINAL_SPEED_SHRINK = 0.965      # AV1 at speed 6 vs 7, same quality: about 3.5 % smaller (measured)


def _band_rows(stream_height: int, n_bands: int) -> tuple:
    n_bands = max(1, min(n_bands, stream_height // 16))
    return tuple(int(round(stream_height * k / n_bands / 8)) * 8 for k in range(1, n_bands))


class Planner(HintSearch):
    """Rate control of one encode (see module docstring); internal."""

    def __init__(self, codec, image, budget: Budget, cell_px, feather_px, image_id):
        self.codec = codec
        self.cfg = codec.config
        self.image = image
        self.budget = budget
        self.cell_px = cell_px
        self.feather_px = feather_px
        self.image_id = image_id
        self.height, self.width = image.shape[:2]
        self.image_f = image.astype(np.float32)
        self.equivalent = budget.equivalent_bytes()
        self._thumb_cache, self._thumb_small, self._hint_by_target = {}, {}, {}

    # -- costs
    def fits(self, payloads) -> bool:
        """``payloads``: [(importance, payload_bytes)] of every section."""
        return self.budget.fits([(imp, section_wire_bytes(n)) for imp, n in payloads])

    def fit_prompt(self, prompt: StructuredPrompt) -> bytes:
        """Serialise the prompt, shrinking it until it takes at most ``prompt_share`` of the
        budget (at least ``MIN_PROMPT_CAP`` bytes) and fits with the header and metadata."""
        meta_min = len(Meta("avif", False, False).to_bytes())
        cap = max(MIN_PROMPT_CAP, self.cfg.prompt_share * self.equivalent)
        for candidate in shrinking(prompt):
            data = candidate.to_bytes()
            sections = [(Importance.CRITICAL, meta_min), (Importance.CRITICAL, len(data))]
            if len(data) <= min(cap, MAX_PROMPT_BYTES) and self.fits(sections):
                self.prompt = candidate
                return data
        for candidate in shrinking(prompt):   # nothing within the cap: the largest that fits
            data = candidate.to_bytes()
            if len(data) <= MAX_PROMPT_BYTES and self.fits([(Importance.CRITICAL, meta_min),
                                                            (Importance.CRITICAL, len(data))]):
                self.prompt = candidate
                return data
        need = HEADER_BYTES + section_wire_bytes(meta_min) + section_wire_bytes(
            len(StructuredPrompt.neutral().to_bytes()))
        raise BudgetTooSmallError(
            f"budget too small: even the minimal container (header, metadata, a one-colour prompt) "
            f"needs {need} bytes")

    # -- key stream
    def coded_weight(self, weight):
        """Share of the residual (image - base) the key stream codes: the feathered key weight,
        and ``nonkey_detail`` of it outside the key area."""
        alpha = self.cfg.nonkey_detail
        return weight if not alpha else weight + (1.0 - weight) * alpha

    def encode_key(self, residual_small, rows, quality, speed):
        streams = []
        for r0, r1 in rows:
            streams.append(stillcodec.encode_still(residual_small[r0:r1], self.cfg.codec, quality, speed,
                                                   tune=STREAM_TUNE))
        return streams

    def key_quality(self, q):
        lo, hi = stillcodec.QUALITY_RANGE[self.cfg.codec]
        return lo + (hi - lo) * q // 100

    def key_error(self, streams, rows, size, base, mask):
        sw, sh = size
        small = np.empty((sh, sw, 3), np.uint8)
        for (r0, r1), stream in zip(rows, streams):
            small[r0:r1] = stillcodec.decode_still(stream, self.cfg.codec, sw, r1 - r0)
        canvas = base + resize(small.astype(np.float32) - 128.0, self.width, self.height)
        diff = (to_uint8(canvas) - self.image_f)[mask]
        return float(np.mean(diff * diff)) if diff.size else 0.0

    def search_scale(self, residual, factor, fixed, n_bands, speed, q_hint=None, slack=1.0):
        """Highest quality that fits at scale ``factor``: (q, streams, rows, size) or None.

        ``slack`` < 1 counts key streams at that share of their size: the sizes a faster
        encoder speed gives, expected to shrink by that much at the final speed.
        """
        sw, sh = scaled_size(self.width, self.height, factor)
        small = to_uint8(resize(residual, sw, sh))
        edges = _band_rows(sh, n_bands)
        rows = list(zip((0,) + edges, edges + (sh,)))
        cache = {}

        def fits(q):
            if q not in cache:
                streams = self.encode_key(small, rows, self.key_quality(q), speed)
                sizes = [(Importance.NORMAL, int(len(s) * slack)) for s in streams]
                cache[q] = (self.fits(fixed + sizes), streams)
            return cache[q][0]

        best = highest_true(fits, 0, 100, q_hint)
        if best is None:
            return None
        return best, cache[best][1], rows, (sw, sh)

    def default_bands(self):
        """Key bands when the config names none: about ``budget.band_bytes`` each, if the link
        prefers a size (key streams take roughly ``KEY_SHARE_ESTIMATE`` of the budget), else
        one more per 8 KB of budget, at most 4."""
        if self.budget.band_bytes:
            wanted = round(KEY_SHARE_ESTIMATE * self.equivalent / self.budget.band_bytes)
            return int(min(MAX_PACKET_BANDS, max(1, wanted)))
        return min(4, 1 + self.equivalent // 8192)

    def search(self, grid, prompt_bytes, significance, target, adapt):
        cfg = self.cfg
        report = {"key_fraction_target": round(float(target), 4)}
        n_bands = cfg.key_bands or self.default_bands()
        attempts = 0
        while True:
            attempts += 1
            mask = maskcode.grid_to_mask(grid, self.width, self.height, self.cell_px)
            weight = feather_weight(mask, self.feather_px)[..., None]
            mask_payload = maskcode.encode_mask(grid, self.cell_px)
            outcome = self._search_once(grid, mask, weight, mask_payload, prompt_bytes, n_bands,
                                        significance.importance if adapt else None)
            if not adapt or attempts >= 3:
                break
            fraction = float(grid.mean())
            if outcome is None:
                if fraction <= MIN_KEY_FRACTION or not mask.any():
                    break
                new = max(MIN_KEY_FRACTION, fraction * 0.5)
            elif outcome["floor"] and fraction > 0.04:
                new = fraction * 0.7
            elif outcome["ceiling"] and fraction < 0.6:
                new = min(0.6, fraction * 1.4)
            else:
                break
            new_grid = select_key_grid(significance.importance, new, self.cell_px)
            if outcome is None and not new_grid.any():
                break
            report.setdefault("key_area_adapted", []).append(
                {"from": round(fraction, 4), "to": round(new, 4),
                 "why": ("no key stream fits" if outcome is None else "coarsest coding does not fit"
                         if outcome["floor"] else "finest coding leaves bytes")})
            grid = new_grid
        if outcome is None:
            return self.prompt_only(prompt_bytes, report)
        report.update(outcome["report"])
        return {"container": outcome["container"], "mask": outcome["mask"], "prompt": self.prompt,
                "report": report}

    def _search_once(self, grid, mask, weight, mask_payload, prompt_bytes, n_bands, importance=None):
        cfg = self.cfg
        if not mask.any():
            return None
        meta_len = 12 + 2 * (n_bands - 1) + 2

        def fixed(hint_payload):
            sections = [(Importance.CRITICAL, meta_len), (Importance.CRITICAL, len(prompt_bytes)),
                        (Importance.HIGH, len(mask_payload))]
            if hint_payload is not None:
                sections.append((Importance.HIGH, len(hint_payload)))
            return sections

        # bytes for hints and key streams together (framing of both counted)
        available = (self.equivalent - HEADER_BYTES - sum(section_wire_bytes(n) for _, n in fixed(None))
                     - (section_wire_bytes(0) + 1) * (n_bands + 1))
        candidates = self.hint_candidates(available)

        # 1. scale and quality of the key stream over a reference base (the hint nearest
        #    HINT_REF_SHARE of the bytes, else none). One band stands in for all (each extra band
        #    costs about BAND_OVERHEAD bytes); scales are tried from fine to coarse and the search
        #    stops at the first that is worse.
        def scale_search(ref):
            residual = (self.image_f - ref.base) * self.coded_weight(weight) + 128.0
            search_fixed = fixed(ref.payload) + [(Importance.NORMAL, BAND_OVERHEAD)] * (n_bands - 1)
            best, q_prev = None, None
            for factor in cfg.scale_factors:
                start = None if q_prev is None else min(100, q_prev + 10)
                found = self.search_scale(residual, factor, search_fixed, 1, cfg.search_speed, start)
                if found is None:
                    continue
                q, streams, rows, size = found
                q_prev = q
                err = self.key_error(streams, rows, size, ref.base, mask)
                if best is None or err < best[0]:
                    best = (err, q, factor)
                else:
                    break
            return best

        ref = candidates[0]
        if len(candidates) > 1 and (cfg.hints == "on" or cfg.hint_share):
            ref = candidates[1]
        elif len(candidates) > 1:
            ref = min(candidates[1:], key=lambda c: abs(c.target - HINT_REF_SHARE * available))
        best = scale_search(ref)
        if best is None and ref.level != 0:
            ref = candidates[0]
            best = scale_search(ref)
        if best is None:
            return None
        err_ref, q_ref, factor = best

        # 2. hints: the level with the lowest weighted error; the key error is extrapolated from
        #    the reference point (key MSE ~ 1 / key bytes: about what AV1 gives at these rates).
        area_key = float(mask.mean())
        nonkey = ~mask
        order = [ref]
        if cfg.hints == "on" or cfg.hint_share:
            order = candidates[1:]                 # the share asked for, then the fallbacks
        elif cfg.hints != "off" and len(candidates) > 1:
            fixed_ref = sum(section_wire_bytes(n) for _, n in fixed(ref.payload))
            key_bytes_ref = max(1, self.equivalent - fixed_ref)
            scores = []
            for cand in candidates:
                if cfg.hints == "on" and cand.level == 0:
                    continue
                extra = (section_wire_bytes(len(cand.payload)) if cand.payload is not None else 0) - (
                    section_wire_bytes(len(ref.payload)) if ref.payload is not None else 0)
                key_bytes = key_bytes_ref - extra
                if key_bytes <= 0:
                    continue
                err_key = err_ref * key_bytes_ref / key_bytes
                err_bg = float(np.mean((cand.base[nonkey] - self.image_f[nonkey]) ** 2)) if nonkey.any() else 0.
                score = area_key * err_key + cfg.nonkey_weight * (1 - area_key) * err_bg
                scores.append((score, cand.level, cand))
            scores.sort(key=lambda s: (s[0], s[1]))
            order = [c for _, _, c in scores] or [ref]
        if candidates[0] not in order:
            order.append(candidates[0])
        # 3. final encode at the chosen scale (final encoder speed), with the best-scoring hint
        #    level that still leaves room for the key stream (a smaller one when the final
        #    speed's stream does not fit beside it).
        slack = FINAL_SPEED_SHRINK if cfg.speed < cfg.refine_speed else 1.0

        def finish(hint):
            hint = self.final_hint(hint)
            residual = (self.image_f - hint.base) * self.coded_weight(weight) + 128.0
            found = self.search_scale(residual, factor, fixed(hint.payload), n_bands, cfg.refine_speed,
                                      q_ref, slack)
            if found is None:
                return None
            q, streams, rows, size = found
            grown = None
            if importance is not None:
                grown = self._grow_key_area(importance, grid, hint.base, weight, mask_payload,
                                            fixed(hint.payload)[:2] + fixed(hint.payload)[3:], factor, q, n_bands,
                                            streams, slack)
            g, m, w, mp = (grid, mask, weight, mask_payload) if grown is None else grown[:4]
            if grown is not None:
                streams = grown[4]
            if cfg.speed != cfg.refine_speed or slack != 1.0:
                # the stream sent: at the final speed, one or two quality steps up if it shrank
                # more than expected, down in the rare case that it shrank less
                small = to_uint8(resize((self.image_f - hint.base) * self.coded_weight(w) + 128.0, *size))
                others = fixed(hint.payload)[:2] + [(Importance.HIGH, len(mp))] + fixed(hint.payload)[3:]
                final = {}

                def fits_final(qq):
                    if qq not in final:
                        final[qq] = self.encode_key(small, rows, self.key_quality(qq), cfg.speed)
                    return self.fits(others + [(Importance.NORMAL, len(x)) for x in final[qq]])

                q_final = highest_true(fits_final, 0, min(100, q + 4), q)
                if q_final is None:
                    return None
                q, streams = q_final, final[q_final]
            return hint, q, streams, rows, size, g, m, w, mp

        done = None
        for hint in order:
            done = finish(hint)
            if done is not None:
                break
        if done is None:
            return None
        hint, q, streams, rows, size, grid, mask, weight, mask_payload = done
        level, hint_payload, thumbnail, base = hint.level, hint.payload, hint.thumb, hint.base
        area_key = float(mask.mean())
        err = self.key_error(streams, rows, size, base, mask)
        meta = Meta(cfg.codec, hint_payload is not None, True, size, self.key_quality(q), self.feather_px,
                    tuple(r0 for r0, _ in rows[1:]),
                    thumbnail.shape[1::-1] if thumbnail is not None else (0, 0))
        sections = [Section(SectionType.META, meta.to_bytes()), Section(SectionType.PROMPT, prompt_bytes),
                    Section(SectionType.MASK, mask_payload)]
        if hint_payload is not None:
            sections.append(Section(SectionType.HINTS, hint_payload))
        sections += [Section(SectionType.KEY, s) for s in streams]
        container = Container(self.image_id, self.width, self.height, sections)
        report = {
            "mode": "semantic",
            "codec": cfg.codec,
            "key_fraction": round(area_key, 4),
            "key_scale_factor": factor,
            "key_stream_size": list(size),
            "key_quality": self.key_quality(q),
            "key_bands": len(rows),
            "key_psnr_estimate_db": round(10 * math.log10(255 ** 2 / max(err, 1e-6)), 2),
            "hints_level": level,
            "hints_thumbnail": list(thumbnail.shape[1::-1]) if thumbnail is not None else None,
            "split_bytes": split_bytes(container),
        }
        return {"container": container, "mask": mask, "report": report,
                "floor": factor >= 4.0,
                "ceiling": q >= 90 and factor == min(cfg.scale_factors)}

    def _grow_key_area(self, importance, grid, base, weight, mask_payload, other_sections, factor, q, n_bands,
                       streams, slack=1.0):
        """Spend what the last quality step left unused on more key area (same scale and quality).

        One quality step of the codec can change the stream size by 5-15 %, so the best
        quality that fits may leave that much of the budget unused. The next most important
        cells are added to the key area while the container still fits (at most 3 tries).
        Returns (grid, mask, weight, mask payload, streams) or None if nothing was added.
        """
        best, share = None, 0.7
        for _ in range(3):
            payloads = ([n for _, n in other_sections] + [len(mask_payload)]
                        + [int(len(s) * slack) for s in streams])
            used = HEADER_BYTES + sum(section_wire_bytes(n) for n in payloads)
            leftover = self.equivalent - used
            key_bytes = sum(len(s) for s in streams)
            cells = int(grid.sum())
            add = int(cells * leftover / max(1, key_bytes) * share)
            if leftover < max(24, 0.02 * self.equivalent) or add < 1:
                break
            new_grid = select_key_grid(importance, min(1.0, (cells + add) / grid.size), self.cell_px)
            if new_grid.sum() <= cells:
                break
            new_mask = maskcode.grid_to_mask(new_grid, self.width, self.height, self.cell_px)
            new_weight = feather_weight(new_mask, self.feather_px)[..., None]
            new_payload = maskcode.encode_mask(new_grid, self.cell_px)
            residual = (self.image_f - base) * self.coded_weight(new_weight) + 128.0
            sw, sh = scaled_size(self.width, self.height, factor)
            edges = _band_rows(sh, n_bands)
            rows = list(zip((0,) + edges, edges + (sh,)))
            new_streams = self.encode_key(to_uint8(resize(residual, sw, sh)), rows, self.key_quality(q),
                                          self.cfg.refine_speed)
            sections = other_sections + [(Importance.HIGH, len(new_payload))] + [
                (Importance.NORMAL, int(len(s) * slack)) for s in new_streams]
            if not self.fits(sections):
                share /= 2
                continue
            grid, mask_payload, streams = new_grid, new_payload, new_streams
            best = (new_grid, new_mask, new_weight, new_payload, new_streams)
        return best

    def prompt_only(self, prompt_bytes, report):
        """No key stream fits: send the prompt, and the largest hint thumbnail that fits."""
        meta_len = 12
        fixed = [(Importance.CRITICAL, meta_len), (Importance.CRITICAL, len(prompt_bytes))]
        available = (self.equivalent - HEADER_BYTES - sum(section_wire_bytes(n) for _, n in fixed)
                     - section_wire_bytes(0) - 1)
        hint = None
        if self.cfg.hints != "off" and "avif" in stillcodec.available_codecs():
            target = available
            while target >= MIN_HINT_BYTES:
                found = self.hint_for_bytes(target)
                if found is not None:
                    found = self.final_hint(found)
                    if self.fits(fixed + [(Importance.HIGH, len(found.payload))]):
                        hint = found
                        break
                target = int(target * 0.85)
        meta = Meta(self.cfg.codec, hint is not None, False,
                    thumb_size=hint.thumb.shape[1::-1] if hint is not None else (0, 0))
        sections = [Section(SectionType.META, meta.to_bytes()), Section(SectionType.PROMPT, prompt_bytes)]
        if hint is not None:
            sections.append(Section(SectionType.HINTS, hint.payload))
        container = Container(self.image_id, self.width, self.height, sections)
        report.update({"mode": "prompt-only", "codec": self.cfg.codec, "key_fraction": 0.0,
                       "hints_level": 1 if hint is not None else 0,
                       "hints_thumbnail": list(hint.size) if hint is not None else None,
                       "split_bytes": split_bytes(container),
                       "note": "no key stream fits the budget: the receiver regenerates the whole image"})
        return {"container": container, "mask": np.zeros((self.height, self.width), bool),
                "prompt": self.prompt, "report": report}
