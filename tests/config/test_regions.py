"""aws:region: every commercial region where EKS runs, held to botocore's endpoint data at the locked version."""

from __future__ import annotations

import copy

import botocore
import botocore.session
import pytest

from modelstack.config import schema
from modelstack.config.load import load_platform
from modelstack.config.schema import ConfigError
from stacks import stack_values


def test_regions_are_botocores_eks_regions_of_the_aws_partition():
    # schema.REGIONS cites botocore 1.44.8's endpoints.json; an upgrade that adds a region fails here until the
    # tuple (and its citation) follow.
    assert botocore.__version__ == "1.44.8"
    assert schema.REGIONS == tuple(botocore.session.get_session().get_available_regions("eks", "aws"))


@pytest.mark.parametrize("region", ["eu-central-1", "ap-southeast-1", "sa-east-1", "us-east-2", "ap-south-2"])
def test_any_eks_region_is_accepted(region):
    values = copy.deepcopy(stack_values("dev"))
    values["aws:region"] = region
    assert load_platform("dev", values).region == region


@pytest.mark.parametrize("region", ["mars-1", "cn-north-1", "us-gov-west-1", "EU-CENTRAL-1", 1])
def test_another_region_is_one_issue_naming_stack_key_value_and_what_is_allowed(region):
    values = copy.deepcopy(stack_values("dev"))
    values["aws:region"] = region
    with pytest.raises(ConfigError) as e:
        load_platform("dev", values, "stacks/Pulumi.dev.yaml")
    assert len(e.value.issues) == 1
    text = e.value.render()
    assert text.startswith("stack 'dev' (stacks/Pulumi.dev.yaml): 1 configuration error")
    assert f"aws:region: got {region!r}" in text and "allowed: an AWS region where EKS runs: one of af-south-1," in text
