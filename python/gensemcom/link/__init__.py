# SPDX-License-Identifier: GPL-3.0-or-later
"""Link policy: how each sender protects what it sends.

  profile     ``LinkProfile``: numerology, MTU, PER targets and margins per importance class (YAML)
  per         the planning PER model (measured AWGN curves, averaged over fading)
  mcsplan     MCS plans {importance class: MCS} and their text form
  protection  channel symbols per packet; the cheapest (MCS, copies) on fading channels
  senders     what the semantic and the whole-image senders plan (``plan_for``, budgets, MCS)
"""
