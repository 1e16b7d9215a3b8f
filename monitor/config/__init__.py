"""The configuration: YAML read strictly, ``${ENV}`` substituted, checked against
``schemas/``, then built into the frozen dataclasses of :mod:`monitor.config.model`.

Everything downstream reads the typed model; nothing reads raw dicts.  Importing this
package is cheap: PyYAML and jsonschema load only when a file is parsed.
"""

from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.loader import config_schema, load_config, parse_config
from monitor.config.values import format_duration, format_path, parse_duration, parse_objective

__all__ = [
    "ConfigError", "ConfigProblem", "config_schema", "format_duration", "format_path",
    "load_config", "parse_config", "parse_duration", "parse_objective",
]
