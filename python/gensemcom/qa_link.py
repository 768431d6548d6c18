#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA (ctest): link policy. The default profile loads; important classes get sturdier MCS;
packet costs grow with size and fall with faster MCS."""
import sys

try:
    from gnuradio import gr_unittest

    from gnuradio.gensemcom.link.profile import LinkProfile
    from gnuradio.gensemcom.link.senders import plan_for
    from gnuradio.gensemcom.phy.mcs import MCS_TABLE
except ImportError as exc:
    print(f"qa_link skipped: {exc} (run ctest with the project's .venv: -DGENSEMCOM_TEST_PYTHON)")
    sys.exit(77)


class qa_link(gr_unittest.TestCase):

    def test_unequal_protection(self):
        profile = LinkProfile.load("default")
        plan, copies = plan_for(profile, "semantic", 10.0, "awgn")
        rate = {c: MCS_TABLE[m].spectral_efficiency for c, m in plan.items()}
        self.assertLessEqual(rate[0], rate[2])          # header/prompt at most as fast as key streams
        self.assertEqual(copies, {})

    def test_packet_costs(self):
        profile = LinkProfile.load("default")
        cost = profile.symbols_for_bytes({0: "bpsk-1/2", 2: "16qam-3/4"})
        self.assertLess(cost(100, 0), cost(400, 0))
        self.assertGreater(cost(400, 0), cost(400, 2))


if __name__ == "__main__":
    gr_unittest.run(qa_link)
