"""Reading a stack file: YAML errors with file, line and column; keys written twice refused with both lines;
documents that would hang or crash the loader (alias bombs, deep nesting, huge files) refused with a bound."""

from __future__ import annotations

import pytest
from guards import no_hang

from modelstack import cli
from modelstack.config.load import MAX_DEPTH, MAX_FILE_CHARS, MAX_NODES, read_stack_file
from modelstack.config.schema import ConfigError

GOOD = "config:\n  aws:region: us-east-1\n  modelstack:platform:\n    environment: dev\n"
STACK_FILE = "a stack file: a mapping with a `config:` mapping of keys to values (aws:region, modelstack:platform)"

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
     f"Pulumi.dev.yaml: got a mapping without a `config:` key (its keys: configuration); allowed: {STACK_FILE}"),
    # Round 2 (issue 19): each said "config: got nothing", "got 'list'", hung, or ended in a traceback.
    ("stack file that is a list", "- aws:region: us-east-1\n- modelstack:platform: {}\n",
     f"Pulumi.dev.yaml: got a list; allowed: {STACK_FILE}"),
    ("stack file that is one word", "us-east-1\n", f"Pulumi.dev.yaml: got 'us-east-1'; allowed: {STACK_FILE}"),
    ("empty stack file", "# nothing yet\n", f"Pulumi.dev.yaml: got an empty document; allowed: {STACK_FILE}"),
    ("config that is a list", "config:\n  - aws:region: us-east-1\n",
     "config: got a list; allowed: a `config:` mapping of keys to values"),
    ("empty config", "config:\n", "config: got nothing; allowed: a `config:` mapping of keys to values"),
    ("alias bomb", None,  # filled in below: nine anchors of nine aliases each, 9^9 values once expanded
     f"Pulumi.dev.yaml: got more than {MAX_NODES:,} values once its aliases are expanded; allowed: a stack file of at "
     f"most {MAX_NODES:,} values (mappings, lists and scalars), aliases counted as what they stand for"),
    ("alias inside its own anchor", "config:\n  aws:region: &r [*r]\n",
     "Pulumi.dev.yaml:2:15: got an alias inside the node it refers to (a value that contains itself); allowed: aliases "
     "of nodes written before and outside them"),
    ("five thousand levels of lists", "config:\n  a: " + "[" * 5000 + "]" * 5000 + "\n",
     f"Pulumi.dev.yaml:2:{6 + MAX_DEPTH - 2}: got mappings and lists nested deeper than {MAX_DEPTH} levels; allowed: a "
     f"stack file nested at most {MAX_DEPTH} levels deep (the schema needs about 10)"),
    ("aliases that nest too deep", "config:\n  a: &a " + "[" * 20 + "]" * 20 + "\n  b: " + "[" * 20 + "*a" + "]" * 20 + "\n",
     f"Pulumi.dev.yaml: got aliases that nest values deeper than {MAX_DEPTH} levels; allowed: a stack file nested at "
     f"most {MAX_DEPTH} levels deep (the schema needs about 10)"),
    ("a date that does not exist", "config:\n  since: 2025-13-45\n",
     "Pulumi.dev.yaml:2:10: got '2025-13-45', a date that does not exist; allowed: a date that exists, or quote it "
     "as a string"),
    ("control character", "config:\n  aws:region: us-east-1\x00\n",
     "Pulumi.dev.yaml:2:24: got the control character U+0000; allowed: a YAML stack file: printable characters, tabs "
     "and line breaks"),
    ("file over the size bound", "config: {}\n" + "#" * MAX_FILE_CHARS + "\n",
     f"Pulumi.dev.yaml: got a file of more than {MAX_FILE_CHARS:,} characters; allowed: a stack file of at most "
     f"{MAX_FILE_CHARS:,} characters ({MAX_FILE_CHARS // 1024} KiB)"),
]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["config:", "  aws:region: us-east-1", "  modelstack:platform:", "    tags:", '      a0: &a0 ["lol"]']
    lines += [f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


CASES = [(n, alias_bomb() if t is None else t, e) for n, t, e in CASES]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_unreadable_stack_file_is_reported_exactly(name, text, expected):
    with no_hang(), pytest.raises(ConfigError) as e:
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


def test_honest_aliases_and_merge_keys_still_read():
    text = GOOD + ("    tags: &tags {cost-center: ml}\n    models:\n      a: &m {image: r.io/a:1, tags: *tags}\n"
                   "      b: {<<: *m, image: r.io/b:1}\n")
    got = read_stack_file(text, "dev", "s.yaml")["modelstack:platform"]
    assert got["models"] == {"a": {"image": "r.io/a:1", "tags": {"cost-center": "ml"}},
                             "b": {"image": "r.io/b:1", "tags": {"cost-center": "ml"}}}


def test_a_duplicate_inside_an_anchor_is_reported_once():
    # The mapping is written once; before, each alias of it walked it again and reported the same line again.
    text = GOOD + "    tags: &t {a: x, a: y}\n    more: [*t, *t, *t]\n"
    with pytest.raises(ConfigError) as e:
        read_stack_file(text, "dev", "s.yaml")
    assert [i.render() for i in e.value.issues] == [
        "s.yaml:5:21: got key 'modelstack:platform.tags.a' again (first on line 5); allowed: each key once in a "
        "mapping: YAML would keep only the last one"]


def test_the_bound_leaves_room_for_large_honest_stacks():
    # 200 models of 30 lines each (about 12 times the node count of the shipped prod stack) read as written.
    model = "".join(f"        k{i}: v{i}\n" for i in range(30))
    text = GOOD + "    models:\n" + "".join(f"      m{j}:\n{model}" for j in range(200))
    assert len(read_stack_file(text, "dev", "s.yaml")["modelstack:platform"]["models"]) == 200


@pytest.mark.parametrize("content,expected", [
    (b"config:\n  aws:region: us-\xff\n", "{path}:2:18: got a byte that is not UTF-8 (0xff); allowed: a stack file in UTF-8"),
    (None, "{path}: got a file that cannot be read (Is a directory); allowed: a readable stack file"),
], ids=["not utf-8", "a directory"])
def test_a_file_that_cannot_be_read_is_a_config_error(tmp_path, content, expected):
    path = tmp_path / "Pulumi.dev.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        cli.read_stack_values(path, "dev")
    assert [i.render() for i in e.value.issues] == [expected.format(path=path)]


def test_a_file_of_gigabytes_is_not_read_whole(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    with open(path, "wb") as f:
        f.truncate(8 * MAX_FILE_CHARS)  # sparse: no disk used
    with pytest.raises(ConfigError) as e:
        cli.read_stack_values(path, "dev")
    assert e.value.issues[0].given == f"a file of more than {MAX_FILE_CHARS:,} characters"


def test_plain_scalars_read_as_pulumi_reads_them():
    """YAML 1.2 as gopkg.in/yaml.v3 v3.0.1 resolves untyped values (resolve.go), which is how Pulumi hands a stack
    file to the program; PyYAML alone reads YAML 1.1, where `spot: yes` is true and `window: 1:30` is 90."""
    text = ("config:\n  v: [yes, no, on, off, y, true, False, TRUE, 1:30, 1e3, 0o17, 0755, 0x1F, 1_000, 089, ~, '=', =, "
            "18446744073709551616, 1e999, " + "9" * 5000 + "]\n")
    got = read_stack_file(text, "dev", "s.yaml")["v"]
    assert got[:-1] == ["yes", "no", "on", "off", "y", True, False, True, "1:30", 1000.0, 15, 493, 31, 1000, 89.0,
                        None, "=", "=", 18446744073709551616.0, "1e999"]
    assert got[-1] == "9" * 5000  # beyond float range: the text, as strconv.ParseFloat's ErrRange leaves it
