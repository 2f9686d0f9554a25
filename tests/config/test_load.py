"""Reading a stack file: YAML errors with file, line and column; keys written twice refused with both lines."""

from __future__ import annotations

import pytest

from modelstack.config.load import read_stack_file
from modelstack.config.schema import ConfigError

GOOD = "config:\n  aws:region: us-east-1\n  modelstack:platform:\n    environment: dev\n"

CASES = [
    ("unclosed flow list", "config:\n  aws:region: [us-east-1\n",
     "Pulumi.dev.yaml:3:1: got text that is not valid YAML (while parsing a flow sequence started on line 2, column 15: "
     "expected ',' or ']', but got '<stream end>'); allowed: a YAML stack file"),
    ("tab indentation", "config:\n\taws:region: us-east-1\n",
     "Pulumi.dev.yaml:2:1: got text that is not valid YAML (found character '\\t' that cannot start any token); "
     "allowed: a YAML stack file"),
    ("bad indentation", "config:\n  aws:region: us-east-1\n modelstack:platform: {}\n",
     "Pulumi.dev.yaml:3:2: got text that is not valid YAML (while parsing a block mapping started on line 1, column 1: "
     "expected <block end>, but found '<block mapping start>'); allowed: a YAML stack file"),
    ("model written twice", GOOD + "    models:\n      sentiment: {image: a}\n      llm: {image: b}\n      sentiment: {image: c}\n",
     "Pulumi.dev.yaml:8:7: got key 'modelstack:platform.models.sentiment' again (first on line 6); allowed: each key "
     "once in a mapping: YAML would keep only the last one"),
    ("config key written twice", GOOD + "  aws:region: eu-west-1\n",
     "Pulumi.dev.yaml:5:3: got key 'aws:region' again (first on line 2); allowed: each key once in a mapping: YAML "
     "would keep only the last one"),
    ("no config mapping", "configuration: {}\n",
     "config: got nothing; allowed: a `config:` mapping of keys to values"),
]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_unreadable_stack_file_is_reported_exactly(name, text, expected):
    with pytest.raises(ConfigError) as e:
        read_stack_file(text, "dev", "Pulumi.dev.yaml")
    assert [i.render() for i in e.value.issues] == [expected]


def test_every_duplicate_in_one_report_and_in_lists_too():
    text = GOOD + ("    node_groups:\n      cpu: {kind: cpu, kind: gpu}\n"
                   "    models:\n      a: {taints: [{key: x, key: y}]}\n      a: {}\n")
    with pytest.raises(ConfigError) as e:
        read_stack_file(text, "dev", "s.yaml")
    assert [i.path for i in e.value.issues] == ["s.yaml:6:24", "s.yaml:8:29", "s.yaml:9:7"]
    assert e.value.issues[1].given == "key 'modelstack:platform.models.a.taints[0].key' again (first on line 8)"


def test_a_good_file_reads_as_its_config_mapping():
    assert read_stack_file(GOOD, "dev", "s.yaml") == {"aws:region": "us-east-1", "modelstack:platform": {"environment": "dev"}}
