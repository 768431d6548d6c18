# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors that the CLI turns into a one-line message and exit code 2."""


class GensemcomError(Exception):
    """Base class: a problem with the user's input or environment, not a bug.

    The message is shown to the user as one line, so it should say what is wrong and,
    where possible, what to do next.
    """

    exit_code = 2


class BadInputError(GensemcomError, ValueError):
    """An argument, file or parameter is invalid (unknown name, out of range, unreadable)."""


class MissingWeightsError(GensemcomError, FileNotFoundError):
    """A model card names weights that are not on this machine."""


class CorruptDataError(GensemcomError, ValueError):
    """Received or stored data failed validation (bad CRC, length, version or field)."""
