"""Old path of `contentguard.service.engine` (moved by issue #14), kept for plugins written
against it: the same module object, so imports and patches reach the real one."""

import sys

from contentguard.service import engine as _module

sys.modules[__name__] = _module
