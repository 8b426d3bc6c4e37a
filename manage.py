#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A setting the environment got wrong (chat_project/settings.py says which): the message, not a
        # 40-line traceback through Django's setup.
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
