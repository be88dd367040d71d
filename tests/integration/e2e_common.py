# SPDX-License-Identifier: Apache-2.0
"""What the end-to-end scripts (run_pipeline_e2e.py, run_service_e2e.py) share: the failure type,
finding the tiny checkpoint the way the C++ tests do, and the JSON Schema validator."""
import os
import sys

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def find_tiny(default_fixtures):
    """$INTERNVL_FIXTURES/internvl-tiny, else $INTERNVL_SHARED/fixtures/..., else the default;
    an absolute path, or None when it is not there."""
    if os.environ.get("INTERNVL_FIXTURES"):
        fixtures = os.environ["INTERNVL_FIXTURES"]
    elif os.environ.get("INTERNVL_SHARED"):
        fixtures = os.path.join(os.environ["INTERNVL_SHARED"], "fixtures")
    else:
        fixtures = default_fixtures
    tiny = os.path.join(fixtures, "internvl-tiny")
    return os.path.abspath(tiny) if os.path.isfile(os.path.join(tiny, "config.json")) else None


def load_validator(validator_script, schema):
    sys.path.insert(0, os.path.dirname(os.path.abspath(validator_script)))
    import validate_messages  # exits 77 itself when python3-jsonschema is missing
    return validate_messages.load_validator(schema), validate_messages.line_errors
