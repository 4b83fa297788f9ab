"""Why a lawful deadline cannot be computed from the inputs given."""


class DeadlineError(ValueError):
    """Inputs that cannot produce a lawful deadline."""


class NaiveDatetimeError(DeadlineError):
    """A timestamp without time zone: its Paris calendar date would be a guess."""


class InvalidSuspensionError(DeadlineError):
    """A clock suspension that is inconsistent with the request's dates."""


class SuspensionAfterDueDateError(InvalidSuspensionError):
    """The clock cannot be stopped once the deadline in force has already expired."""


class InvalidExtensionError(DeadlineError):
    """An Art. 12(3) extension that is malformed or not allowed."""


class ExtensionTooLateError(InvalidExtensionError):
    """Art. 12(3): the extension must be decided within the first (one-month) period."""


class ExtensionAlreadyGrantedError(InvalidExtensionError):
    """Art. 12(3) allows a single extension of two further months."""
