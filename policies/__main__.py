# Entry point Pulumi runs (`python -m pulumi.policy` executes this directory with runpy), so the
# import is absolute: `modelstack` must be installed in the pack's virtualenv (see requirements.txt).
from pulumi_policy import EnforcementLevel, PolicyPack

from modelstack.policies.pack import PACK_NAME, build_policies

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.ADVISORY)
