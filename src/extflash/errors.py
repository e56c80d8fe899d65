"""Error types. Every error a user can cause is an :class:`ExtflashError` with one clear message.

The CLI prints ``str(error)`` (never a traceback) and exits with ``error.exit_code``:

* 1 — the operation ran and failed (a loader call failed, verify mismatch, lint errors);
* 2 — unusable input (a file that is not a loader, an image outside the device, a bad pin list);
* 3 — the target could not be reached or driven (no probe, emulator fault outside a loader call);
* 130 — interrupted by the user (Ctrl-C).

``code`` names the kind of failure in JSON output (the envelope's ``error.code``).
"""

from __future__ import annotations


class ExtflashError(Exception):
    """Base class: a failure with a message meant for the user."""

    code = "failed"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class InputError(ExtflashError):
    """The user's input (file, option, data file) cannot be used."""

    code = "bad-input"
    exit_code = 2


class LoaderFormatError(InputError):
    """A loader file is malformed: not ELF, truncated, wrong architecture, bad descriptor."""

    code = "bad-loader"


class ImageError(InputError):
    """An application image cannot be read or does not fit the device."""

    code = "bad-image"


class ConfigError(InputError):
    """A board, chip, family or pin description is unknown or invalid."""

    code = "bad-config"


class ToolchainError(ExtflashError):
    """arm-none-eabi-gcc is missing or a build failed."""

    code = "toolchain"
    exit_code = 2


class TargetError(ExtflashError):
    """The target (virtual board or probe) could not be reached or driven."""

    code = "target"
    exit_code = 3


class OperationError(ExtflashError):
    """An operation ran on the target and failed (loader call, verify, blank check)."""

    code = "failed"
    exit_code = 1


class Interrupted(ExtflashError):
    """The user stopped the command (Ctrl-C); the message says what was done before."""

    code = "interrupted"
    exit_code = 130
