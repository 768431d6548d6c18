# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio message blocks (layer 3) that put the semantic codec on PDUs and join it to the PHY."""
