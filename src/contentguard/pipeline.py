"""Old path of `contentguard.moderation.image` (moved by issue #14), kept for plugins written
against it: the same module object, so imports and patches reach the real one."""

import sys

from contentguard.moderation import image as _module

sys.modules[__name__] = _module
