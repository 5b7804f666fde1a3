"""One error type for what the user can fix, and one way to report it.

Library code raises ``UserError("what is wrong and what to do")`` for bad params, missing
inputs and impossible settings; it never calls ``sys.exit``. Each command's ``main`` is wrapped
in ``reported``, which prints ``PROG: message`` on stderr and returns exit status 2 instead of
a traceback. Anything else that escapes is a bug, and keeps its traceback.

    @reported("train_gan")
    def main(argv=None) -> int: ...
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

USER_ERROR_EXIT = 2  # as argparse exits on a bad command line


class UserError(Exception):
    """Something the user can fix: the message says what and how."""


def reported(prog: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Wrap a ``main(argv)``: a ``UserError`` becomes ``PROG: message`` and exit status 2."""
    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args, **kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except UserError as exc:
                message = str(exc)
                prefix = f"{prog}: "
                print(message if message.startswith(prefix) else prefix + message,
                      file=sys.stderr)
                return USER_ERROR_EXIT
        return run
    return wrap
